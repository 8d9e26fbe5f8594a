"""AI12Z compatible: knowledge-base answers over Socket.IO (``evaluate_query`` in, ``response`` tokens and one
``end_response`` out)."""
