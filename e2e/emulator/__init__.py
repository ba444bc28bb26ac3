"""Local AWS emulator for the e2e suite: moto 5.2.5 plus our extensions.

Entry point: ``e2e/moto/moto_server_compat.py`` (same CLI as ``moto_server``), which calls
:func:`emulator.server.main`. ``server`` builds the registry and serves.

* ``core/``      the mechanisms (middleware, registry, control API, config, faults, wire
                 formats, botocore models, lifecycle machinery), no service behaviour
* ``services/``  one module per AWS service with all of that service's behaviour, each
                 listed once in ``services.SERVICES``

It must never talk to real AWS, and it never evaluates data planes (SQL, HTTP, mail).
See README.md.
"""
