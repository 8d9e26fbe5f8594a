"""Private AI / Limina wire protocol: WebSocket ``/ws`` (ws.py), REST ``POST /process/text`` and ``GET /``
(rest.py); the reply and error forms both share are in replies.py."""
