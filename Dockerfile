# One image per zeropower service, from one recipe: docker compose passes SERVICE (the package directory
# under services/) and MODULE (what follows `python -m zeropower.`). Build context: the repository root.
#   docker build --build-arg SERVICE=meter --build-arg MODULE=meter -t zeropower-meter .
# EXTRAS (optional) adds a package's extras: --build-arg EXTRAS="[rpi]".
# Pure Python plus wheels that exist for amd64 and arm64 (Raspberry Pi 4/5 with a 64-bit OS).
ARG PYTHON_IMAGE=python:3.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
ARG SERVICE
# Optional extras of the package, e.g. "[rpi]" (RPi.GPIO through rpi-lgpio for actuator-pwm).
ARG EXTRAS=""
# install-service pins every version, the build backend too, with constraints.txt.
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
RUN test -n "$SERVICE" || { echo "build with --build-arg SERVICE=<directory under services/>" >&2; exit 1; }
RUN python -m venv /opt/zeropower
COPY constraints.txt /src/constraints.txt
COPY scripts/install-service /src/scripts/install-service
# Every local package: a service may depend on another (the API on zeropower-controller), which no index has.
COPY shared /src/shared
COPY services /src/services
# The script builds wheels of shared/ and services/*, then installs shared and this service with them at hand.
RUN sh /src/scripts/install-service /opt/zeropower/bin/python "$SERVICE" "$EXTRAS"

FROM ${PYTHON_IMAGE}
ARG MODULE
RUN test -n "$MODULE" || { echo "build with --build-arg MODULE=<python -m zeropower.MODULE>" >&2; exit 1; }
# A system user without login; its home is the working directory and the place for state (recorder spool).
RUN useradd --system --uid 10001 --user-group --create-home --home-dir /var/lib/zeropower \
        --shell /usr/sbin/nologin zeropower
COPY --from=build /opt/zeropower /opt/zeropower
ENV PATH=/opt/zeropower/bin:$PATH PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1 ZEROPOWER_MODULE=${MODULE}
WORKDIR /var/lib/zeropower
USER zeropower
# exec: the service itself becomes PID 1 and receives docker's SIGTERM (it then publishes offline).
ENTRYPOINT ["/bin/sh", "-c", "exec python -m \"zeropower.$ZEROPOWER_MODULE\" \"$@\"", "zeropower"]
