#!/usr/bin/env bash
# The test suite with every clock moved ahead (three years by default), on the embedded PostgreSQL.
#
#   scripts/time_travel.sh                          # the whole suite, 3 years ahead
#   TIME_TRAVEL=+5y scripts/time_travel.sh tests/feeds -x
#
# libfaketime (Debian: apt-get install faketime) is preloaded into pytest, and so into every process
# it starts: the embedded PostgreSQL (so now() in SQL moves too), `labbook` commands, served workers.
# Monotonic clocks move by the same offset, so durations keep their length; left real, libfaketime
# 0.9.10 turns Python's time.sleep into EINVAL. Moved, a thread's timed wait (queue.get(timeout=...))
# never returns: tests/test_contract.py therefore runs its threaded client, schemathesis, on the real
# clock; it only calls labbook. The embedded server gets a data directory of its own
# (.labbook-time-travel/), so that it is started under the moved clock rather than shared with a
# server a normal run left running. Arguments are passed on to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."

offset="${TIME_TRAVEL:-+3y}"
library=""
for candidate in /usr/lib/x86_64-linux-gnu/faketime/libfaketimeMT.so.1 \
                 /usr/lib/aarch64-linux-gnu/faketime/libfaketimeMT.so.1 \
                 /usr/lib/faketime/libfaketimeMT.so.1 /usr/local/lib/faketime/libfaketimeMT.so.1; do
  if [ -e "$candidate" ]; then library="$candidate"; break; fi
done
if [ -z "$library" ]; then
  echo "libfaketime is missing: apt-get install faketime" >&2
  exit 2
fi
[ -x .venv/bin/python ] || python3 dev.py install

data_dir="$PWD/.labbook-time-travel"
real_now="$(date -u +%s)"
export LD_PRELOAD="$library${LD_PRELOAD:+:$LD_PRELOAD}"
export FAKETIME="$offset"
export LABBOOK_TEST_DATA_DIR="$data_dir"
unset LABBOOK_TEST_DATABASE_URL

# Check that the clock moved, for Python and for the PostgreSQL it starts, before trusting a green run.
.venv/bin/python - "$data_dir" "$real_now" <<'EOF'
import asyncio
import sys
from datetime import UTC, datetime
from pathlib import Path

import asyncpg

from labbook import embedded

real = datetime.fromtimestamp(int(sys.argv[2]), UTC)
moved = datetime.now(UTC)


async def database_now() -> datetime:
    conn = await asyncpg.connect(embedded.start(Path(sys.argv[1])).url("postgres"))
    try:
        value: datetime = await conn.fetchval("select now()")
        return value
    finally:
        await conn.close()


in_database = asyncio.run(database_now())
print(
    f"time travel: really {real:%Y-%m-%d %H:%M}Z; Python reads {moved:%Y-%m-%d %H:%M}Z, "
    f"PostgreSQL reads {in_database:%Y-%m-%d %H:%M}Z"
)
if abs((moved - real).total_seconds()) < 3600:
    sys.exit("the clock did not move: is libfaketime preloaded?")
if abs((in_database - moved).total_seconds()) > 300:
    sys.exit("the embedded PostgreSQL does not share the moved clock (a server started earlier is running?)")
EOF

status=0
.venv/bin/python -m pytest -p no:cacheprovider -q -rfE "$@" | tee .time-travel.log || status=$?
echo "== failures and errors by folder (FAKETIME=$offset)"
grep -E '^(FAILED|ERROR) ' .time-travel.log | sed -E 's/^(FAILED|ERROR) ([^:]+)::.*/\2/' |
  xargs -r -n1 dirname | sort | uniq -c || true
exit "$status"
