"""The emulator's mechanisms, shared by every service module (no service behaviour here).

* ``middleware`` the WSGI stack around moto: identifies each call, serves the control API,
                 applies faults, runs the registry's hooks around moto's own answer
* ``hooks``      the Registry services declare themselves on (before/after hooks, resets,
                 moto patches) and the call being served on this thread
* ``control``    the ``/_emulator/*`` control API (config, faults, reset)
* ``config``     durations and outcomes (environment defaults, changed at run time)
* ``faults``     run-time fault injection (throttling, 5xx, latency, drops)
* ``wire``       identification of service/operation; error bodies in each protocol's format
* ``errors``     moto's error answers corrected in format for any service (IAM denials in
                 JSON protocols, the code-replacing helper services use)
* ``model``      botocore service models: request/response validation, (de)serialisation
* ``xmlser``     awsQuery parameters in, XML answers out, along a model shape
* ``cbor``       the smithy rpc-v2-cbor codec
* ``lifecycle``  durations for states moto skips, by response rewriting (a service gives
                 the resource kinds as ``Spec``s)
* ``util``       account, clock, ids, pagination
"""
