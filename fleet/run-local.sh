#!/usr/bin/env bash
# Run the fleet job on Spark in local mode (all cores of this machine):
#   bash fleet/run-local.sh INPUT_DIR OUTPUT_DIR [job options…]
# Installs what it needs when missing: Debian's openjdk-17-jre-headless (needs root), PySpark in a
# virtualenv (fleet/.venv, or $TAILGATE_FLEET_VENV), and builds tailgate (or set $TAILGATE).
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
[ $# -ge 2 ] || { echo "usage: $0 INPUT_DIR OUTPUT_DIR [--from DAY] [--to DAY] [--lb NAME]…" >&2; exit 2; }
PYSPARK_VERSION=${PYSPARK_VERSION:-4.0.1}
if ! command -v java >/dev/null 2>&1; then
  if [ "$(id -u)" != 0 ]; then echo "Java is missing: apt-get install openjdk-17-jre-headless (or run as root)" >&2; exit 2; fi
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq openjdk-17-jre-headless >/dev/null
fi
VENV=${TAILGATE_FLEET_VENV:-$HERE/.venv}
if [ ! -x "$VENV/bin/spark-submit" ]; then
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q --disable-pip-version-check "pyspark==$PYSPARK_VERSION"
fi
if [ -z "${TAILGATE:-}" ]; then
  (cd "$HERE/.." && cargo build --release --quiet)
  TAILGATE=$HERE/../target/release/tailgate
fi
export PYSPARK_PYTHON="$VENV/bin/python" PYTHONUNBUFFERED=1
exec "$VENV/bin/spark-submit" --master "local[*]" --conf spark.ui.enabled=false --conf spark.driver.memory=2g \
  --conf "spark.driver.extraJavaOptions=-Dlog4j2.level=warn" \
  "$HERE/tailgate_fleet.py" --tailgate "$TAILGATE" "$@"
