"""Local AWS emulator for the e2e suite: moto 5.2.5 plus our extensions.

Entry point: ``e2e/moto/moto_server_compat.py`` (same CLI as ``moto_server``), which
applies moto compat patches and calls :func:`emulator.server.main`.

Modules (each small, each with one job):

* ``server``     builds the WSGI stack and runs it (werkzeug, threaded)
* ``middleware`` identifies service/operation of every request, runs faults,
                 extensions and response rewrites around moto's own WSGI app
* ``control``    the ``/_emulator/*`` control API (config, faults, reset)
* ``faults``     run-time fault injection (throttling, 5xx, latency, drops)
* ``wire``       error bodies in each AWS protocol's real wire format
* ``model``      botocore service models: request/response validation, (de)serialisation
* ``apprunner``  App Runner (moto has none)
* ``ecs_express``ECS Express Mode (*ExpressGatewayService)
* ``lifecycle``  configurable durations for states moto skips (response rewriting)
* ``codebuild``  CodeBuild builds with phases, environment and logs, pushing their image
                 to moto's ECR; paginated build lists
* ``patches``    moto semantics fixed where moto is wrong (duplicates, error codes, ...)
* ``s3policy``   bucket-policy evaluation with conditions (aws:SecureTransport, ...)
* ``cbor``       CloudWatch over smithy rpc-v2-cbor

It must never talk to real AWS, and it never evaluates data planes (SQL, HTTP, mail).
"""
