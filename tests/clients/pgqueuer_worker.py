"""Real PgQueuer clients for jobtop's tests: enqueue jobs, and run a real worker.

Our own script around PgQueuer's public API (QueueManager, Queries, its retry executor),
connected with psycopg to the database PGDSN names. The tests (tests/db/pgqueuer.rs) drive
it to put jobs in every state the way PgQueuer itself does:

  enqueue ENTRYPOINT COUNT [DELAY_SECS]   enqueue COUNT jobs, due in DELAY_SECS; prints ids
  work ENTRYPOINT[,ENTRYPOINT...]         run a worker on those entrypoints until none of
                                          their jobs is due or picked, then stop

Entrypoints:
  send_email  succeeds
  charge      fails while PGQ_CHARGE_FAILS=1, and is held as 'failed' (on_failure="hold")
  import_csv  fails, and is deleted and logged 'exception' (PgQueuer's default)
  flaky       fails, and PgQueuer's retry executor puts it back in an hour, one attempt more
  lost        prints "picked <id>" and never returns: the test kills the worker with -9
"""

import asyncio
import os
import sys
from datetime import timedelta

import psycopg
from pgqueuer import DatabaseRetryEntrypointExecutor, PsycopgDriver, Queries, QueueManager


async def connect() -> psycopg.AsyncConnection:
    return await psycopg.AsyncConnection.connect(os.environ["PGDSN"], autocommit=True)


async def enqueue(entrypoint: str, count: int, delay_secs: float) -> None:
    conn = await connect()
    queries = Queries(PsycopgDriver(conn))
    delay = timedelta(seconds=delay_secs) if delay_secs else None
    ids = await queries.enqueue(
        [entrypoint] * count,
        [f'{{"n": {i}}}'.encode() for i in range(count)],
        [0] * count,
        [delay] * count,
    )
    print(" ".join(str(i) for i in ids), flush=True)
    await conn.close()


def register(qm: QueueManager) -> None:
    @qm.entrypoint("send_email")
    async def send_email(job) -> None:
        pass

    @qm.entrypoint("charge", on_failure="hold")
    async def charge(job) -> None:
        if os.environ.get("PGQ_CHARGE_FAILS") == "1":
            raise RuntimeError("card declined")

    @qm.entrypoint("import_csv")
    async def import_csv(job) -> None:
        raise ValueError("bad header")

    @qm.entrypoint(
        "flaky",
        executor_factory=lambda params: DatabaseRetryEntrypointExecutor(
            parameters=params,
            max_attempts=5,
            initial_delay=timedelta(hours=1),
            max_delay=timedelta(hours=1),
        ),
    )
    async def flaky(job) -> None:
        raise ConnectionError("upstream timed out")

    @qm.entrypoint("lost")
    async def lost(job) -> None:
        print(f"picked {job.id}", flush=True)
        await asyncio.Event().wait()


async def stop_when_idle(qm: QueueManager, entrypoints: list[str]) -> None:
    """Stops the worker once none of its entrypoints' jobs is due or picked, twice running."""
    conn = await connect()
    idle = 0
    while idle < 2:
        await asyncio.sleep(0.3)
        cur = await conn.execute(
            "SELECT count(*) FROM pgqueuer WHERE entrypoint = ANY(%s) "
            "AND (status = 'picked' OR (status = 'queued' AND execute_after <= now()))",
            (entrypoints,),
        )
        (busy,) = await cur.fetchone()
        idle = idle + 1 if busy == 0 else 0
    await conn.close()
    qm.shutdown.set()


async def work(entrypoints: list[str]) -> None:
    conn = await connect()
    qm = QueueManager(Queries(PsycopgDriver(conn)))
    register(qm)
    for name in list(qm.entrypoint_registry):
        if name not in entrypoints:
            del qm.entrypoint_registry[name]
    stopper = None
    if "lost" not in entrypoints:
        stopper = asyncio.create_task(stop_when_idle(qm, entrypoints))
    await qm.run(dequeue_timeout=timedelta(seconds=0.5), batch_size=2)
    if stopper:
        await stopper
    await conn.close()


def main() -> None:
    command = sys.argv[1]
    if command == "enqueue":
        delay = float(sys.argv[4]) if len(sys.argv) > 4 else 0.0
        asyncio.run(enqueue(sys.argv[2], int(sys.argv[3]), delay))
    elif command == "work":
        asyncio.run(work(sys.argv[2].split(",")))
    else:
        sys.exit(f"unknown command {command}")


if __name__ == "__main__":
    main()
