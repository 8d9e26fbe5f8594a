"""The bus contract between gateways and workers, in one package.

- :mod:`.keys`      every Redis key and stream name the system uses (nothing else invents one)
- :mod:`.envelope`  the msgpack envelopes of requests and replies, and the status codes they carry
- :mod:`.sessions`  the typed messages of a streaming session: requests to a worker, events back
- :mod:`.client`    :class:`~services.bus.client.Bus`, every Redis command the system sends
- :mod:`.jobs`      batch jobs: Celery's configuration on the bus's Redis, and a job's stored audio
"""
