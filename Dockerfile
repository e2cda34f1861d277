FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY server server
COPY signaling signaling
COPY media media
COPY checklists checklists
COPY mini_client mini_client
RUN pip install --no-cache-dir .
ENV CLOUDINSPECT_DATA_DIR=/var/lib/cloudinspect
EXPOSE 8000
