"""benhan's benchmark suite (issue 8): ``python -m bench.run --quick | --full | --smoke``.

Layout: ``run`` orchestrates; ``pg`` owns the benchmark's PostgreSQL; ``server`` starts benhan (uvicorn or
granian, N workers); ``loadgen`` is the separate load process (asyncio + aiohttp); ``workloads`` are the
request shapes it sends; ``rawpg`` measures the same work done by raw PostgreSQL; ``data`` makes realistic
resources and bundles; ``report`` checks targets and writes the JSON and Markdown results.
"""
