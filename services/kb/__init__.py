"""The knowledge-base engine behind the AI12Z-compatible Q&A service (no protocol types here).

documents (a folder of Markdown, HTML, text and PDF) -> chunking (passages with their metadata) ->
embedder (all-MiniLM-L6-v2 in numpy) -> store (KbStore: in memory, or Redis in redis_store) -> search
(Retriever: BM25 fused with cosine, a relevance threshold, refresh on a new version). ingest ties the
first four together; `python -m services.kb ingest <folder>` runs it against Redis.

Importable without Redis; the embedder needs the kb extra (numpy, safetensors, tokenizers and the model
package) and search needs bm25s.
"""
