# PPO Playground as a container (also usable as a Hugging Face Docker Space: sdk: docker, app_port: 8501).
# The same install as `make play`: torch 2.13.0 CPU first, then the project.
FROM python:3.11-slim

RUN apt-get update && apt-get install -y --no-install-recommends make curl && rm -rf /var/lib/apt/lists/*
RUN useradd --create-home --uid 1000 player
USER player
WORKDIR /home/player/app
ENV PATH=/home/player/app/.venv/bin:$PATH PORT=8501

COPY --chown=player:player pyproject.toml README.md Makefile ./
COPY --chown=player:player envs envs
COPY --chown=player:player agents agents
COPY --chown=player:player playground playground
RUN make setup
COPY --chown=player:player models models

EXPOSE 8501
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s CMD curl -fsS http://127.0.0.1:${PORT}/_stcore/health || exit 1
CMD ["sh", "-c", "streamlit run playground/app.py --server.port ${PORT} --server.address=0.0.0.0 --server.headless true --browser.gatherUsageStats false"]
