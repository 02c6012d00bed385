# The fixbot worker (and CLI) image: `docker-compose build worker`. Untrusted code never runs here: the
# worker starts sandbox containers on the engine whose socket docker-compose mounts into it.
FROM python:3.11-slim
RUN apt-get update && apt-get install -y --no-install-recommends git && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY pyproject.toml README.md /app/
COPY agent /app/agent
COPY sandbox /app/sandbox
COPY chatbot /app/chatbot
RUN pip install --no-cache-dir /app
CMD ["fixbot", "worker"]
