// pg-boss, driven through its own API and workers, for tests/db/real_clients/pgboss.rs.
// Run from the npm cache dir the harness installs pg-boss into (tests/common/clients/npm.rs).
//
//   node pgboss.mjs migrate     install the schema (pg-boss's start()) and create the queues
//   node pgboss.mjs produce     known states, made by real workers; prints the ids as JSON
//   node pgboss.mjs hold        a worker that takes the `hold` job and never finishes it
//   node pgboss.mjs supervise   one pass of pg-boss's own supervisor / maintenance
//   node pgboss.mjs work QUEUE  a worker that completes every due job of QUEUE, then exits
//   node pgboss.mjs schedule    schedule() the `ok` queue every 5 minutes (its timekeeper
//                               is not run, so it never fires by itself)
//
// Env: DATABASE_URL; PGBOSS_SCHEMA; PGBOSS_PACKAGE (`pg-boss`, or the alias of another major).

const pkg = await import(process.env.PGBOSS_PACKAGE ?? 'pg-boss')
const PgBoss = pkg.PgBoss ?? pkg.default
const schema = process.env.PGBOSS_SCHEMA ?? 'pgboss'
const [command, arg] = process.argv.slice(2)
const major = Number((await import(`${process.env.PGBOSS_PACKAGE ?? 'pg-boss'}/package.json`, { with: { type: 'json' } })).default.version.split('.')[0])

// The queues and what each is for: `fails` has no retries, `flaky` retries an hour later,
// `hold` asks for heartbeats where the version has them (12.12 on).
const QUEUES = {
  ok: {},
  fails: { retryLimit: 0 },
  flaky: { retryLimit: 3, retryDelay: 3600 },
  later: {},
  hold: major >= 12 ? { heartbeatSeconds: 10 } : {}
}

const boss = new PgBoss({
  connectionString: process.env.DATABASE_URL,
  schema,
  supervise: false,
  schedule: false,
  max: 3,
  ...(major >= 12 ? { pollingIntervalSeconds: 0.5 } : { pollingIntervalSeconds: 0.5 })
})
boss.on('error', err => console.error('pg-boss error:', err.message))
await boss.start()

const sleep = ms => new Promise(resolve => setTimeout(resolve, ms))

// Runs a worker on `name` until `handled` jobs have been through its handler and pg-boss has
// settled them.
async function workUntil (name, handled, handler) {
  let seen = 0
  const id = await boss.work(name, { pollingIntervalSeconds: 0.5 }, async jobs => {
    for (const job of jobs) {
      seen++
      await handler(job)
    }
  })
  while (seen < handled) await sleep(100)
  await boss.offWork(major >= 12 ? name : { id }, major >= 12 ? { wait: true } : undefined)
  await sleep(300)
}

switch (command) {
  case 'migrate':
    for (const [name, options] of Object.entries(QUEUES)) await boss.createQueue(name, options)
    break
  case 'produce': {
    const ids = {
      ok: [await boss.send('ok', { n: 1 }), await boss.send('ok', { n: 2 })],
      fails: await boss.send('fails', { n: 3 }),
      flaky: await boss.send('flaky', { n: 4 }),
      later: await boss.send('later', { n: 5 }, { startAfter: 3600 }),
      hold: await boss.send('hold', { n: 6 })
    }
    await workUntil('ok', 2, async () => {})
    await workUntil('fails', 1, async () => { throw new Error('no such mailbox') })
    await workUntil('flaky', 1, async () => { throw new Error('smtp timeout') })
    console.log(JSON.stringify(ids))
    break
  }
  case 'hold':
    await boss.work('hold', { pollingIntervalSeconds: 0.5 }, async ([job]) => {
      console.log(`HOLDING ${job.id}`)
      await new Promise(() => {})
    })
    await new Promise(() => {})
    break
  case 'supervise':
    // 10's supervise() only starts a timer; maintain() is its one pass.
    if (major >= 11) await boss.supervise()
    else await boss.maintain()
    break
  case 'work': {
    let done = 0
    const deadline = Date.now() + 20000
    await boss.work(arg, { pollingIntervalSeconds: 0.5 }, async jobs => {
      for (const job of jobs) console.log(`DONE ${job.id}`)
      done += jobs.length
    })
    while (done === 0 && Date.now() < deadline) await sleep(100)
    await sleep(500)
    break
  }
  case 'schedule':
    await boss.schedule('ok', '*/5 * * * *', { n: 7 }, { tz: 'UTC' })
    break
  default:
    throw new Error(`unknown command ${command}`)
}
await boss.stop({ graceful: true, wait: true, close: true })
process.exit(0)
