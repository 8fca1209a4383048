"""Real procrastinate clients for jobtop's tests: defer jobs, and run a real worker.

Our own script around procrastinate's public API (App, PsycopgConnector, RetryStrategy),
connected to the database PGDSN names. The tests (tests/db/real_clients/procrastinate.rs)
drive it to put jobs in every state the way procrastinate itself does:

  defer TASK COUNT [DELAY_SECS]   defer COUNT jobs, due in DELAY_SECS; prints their ids
  work QUEUE[,QUEUE...]           run a worker on those queues until nothing is due, then stop
  hang                            run a worker on `lost` that prints "picked <id>" and never
                                  finishes its job: the test kills it with -9

Tasks:
  send_email  (queue emails)    succeeds
  charge      (queue payments)  fails for good while PROCRASTINATE_CHARGE_FAILS=1
  flaky       (queue flaky)     fails; its retry strategy defers it an hour, one attempt more
  report      (queue reports)   succeeds (deferred an hour ahead by the test)
  lost        (queue lost)      hangs
"""

import asyncio
import os
import sys

from procrastinate import App, PsycopgConnector, RetryStrategy

app = App(connector=PsycopgConnector(conninfo=os.environ["PGDSN"]))


@app.task(name="send_email", queue="emails")
async def send_email(n: int) -> None:
    pass


@app.task(name="charge", queue="payments")
async def charge(n: int) -> None:
    if os.environ.get("PROCRASTINATE_CHARGE_FAILS") == "1":
        raise RuntimeError("card declined")


@app.task(name="flaky", queue="flaky", retry=RetryStrategy(max_attempts=5, wait=3600))
async def flaky(n: int) -> None:
    raise ConnectionError("upstream timed out")


@app.task(name="report", queue="reports")
async def report(n: int) -> None:
    pass


@app.task(name="lost", queue="lost", pass_context=True)
async def lost(context, n: int) -> None:
    print(f"picked {context.job.id}", flush=True)
    await asyncio.Event().wait()


TASKS = {t.name: t for t in (send_email, charge, flaky, report, lost)}


async def defer(task: str, count: int, delay_secs: int) -> None:
    async with app.open_async():
        ids = []
        for n in range(count):
            deferrer = TASKS[task]
            if delay_secs:
                deferrer = deferrer.configure(schedule_in={"seconds": delay_secs})
            ids.append(await deferrer.defer_async(n=n))
        print(" ".join(str(i) for i in ids), flush=True)


async def work(queues: list[str]) -> None:
    async with app.open_async():
        await app.run_worker_async(
            queues=queues, wait=False, install_signal_handlers=False
        )


async def hang() -> None:
    async with app.open_async():
        await app.run_worker_async(
            queues=["lost"],
            install_signal_handlers=False,
            update_heartbeat_interval=1,
            listen_notify=False,
            fetch_job_polling_interval=0.2,
        )


def main() -> None:
    command, *args = sys.argv[1:]
    if command == "defer":
        delay = int(args[2]) if len(args) > 2 else 0
        asyncio.run(defer(args[0], int(args[1]), delay))
    elif command == "work":
        asyncio.run(work(args[0].split(",")))
    elif command == "hang":
        asyncio.run(hang())
    else:
        sys.exit(f"unknown command {command}")


if __name__ == "__main__":
    main()
