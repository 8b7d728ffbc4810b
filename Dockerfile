# Railguard server image: `railguard serve` with the server and PostgreSQL extras.
FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY src ./src
RUN pip install --no-cache-dir ".[server,postgres]" && useradd --create-home railguard
USER railguard
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=3s CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8080/readyz')"
# --host 0.0.0.0: reachable from outside the container; put TLS in front (a proxy) for the cookie's Secure flag.
CMD ["railguard", "serve", "--host", "0.0.0.0", "--port", "8080"]
