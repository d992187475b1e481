# labbook as one image: `labbook serve` migrates the database, then runs the HTTP workers.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    LABBOOK_DATA_DIR=/var/lib/labbook

WORKDIR /src
COPY pyproject.toml README.md ./
COPY src ./src
COPY migrations ./migrations

# labbook looks for migrations/ next to its package; a wheel that does not carry them gets them here.
RUN pip install . \
 && python -c "import importlib.util, pathlib, shutil; \
package = pathlib.Path(importlib.util.find_spec('labbook').submodule_search_locations[0]); \
(package / 'migrations').exists() or shutil.copytree('migrations', package / 'migrations')" \
 && useradd --system --create-home --home-dir /var/lib/labbook labbook

USER labbook
WORKDIR /var/lib/labbook
EXPOSE 8000

CMD ["labbook", "serve", "--host", "0.0.0.0", "--port", "8000", "--workers", "2"]
