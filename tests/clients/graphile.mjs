// graphile-worker, driven through its own API and workers, for
// tests/db/real_clients/graphile.rs. Run from the npm cache dir the harness installs it into.
//
//   node graphile.mjs migrate      install the schema (graphile-worker's runMigrations)
//   node graphile.mjs produce      known states, made by a real worker; prints the ids as JSON
//   node graphile.mjs hold         a worker that takes the `hold` job and never finishes it
//   node graphile.mjs cleanup      graphile-worker's own cleanup (the tasks that keep jobs)
//   node graphile.mjs work TASK    a worker that completes one due TASK job, then exits
//   node graphile.mjs crontab      a runner with a crontab (`tick` every minute), until its
//                                  first firing has run; prints FIRED and the job's id
//
// Env: DATABASE_URL; GRAPHILE_SCHEMA.

import { makeWorkerUtils, run, runMigrations } from 'graphile-worker'

const connectionString = process.env.DATABASE_URL
const schema = process.env.GRAPHILE_SCHEMA ?? 'graphile_worker'
const [command, arg] = process.argv.slice(2)
const common = { connectionString, schema, noHandleSignals: true, pollInterval: 200, logger: undefined }
const sleep = ms => new Promise(resolve => setTimeout(resolve, ms))

// The attempts a job has made, or null once it is gone (completed jobs are deleted).
async function attempts (utils, id) {
  const { rows } = await utils.withPgClient(client =>
    client.query(`SELECT attempts, locked_at FROM ${schema}._private_jobs WHERE id = $1`, [id]))
  return rows.length && rows[0].locked_at === null ? rows[0].attempts : rows.length ? -1 : null
}

// Runs a worker for `tasks` until `done` says so.
async function workUntil (tasks, done) {
  const runner = await run({ ...common, concurrency: 1, taskList: tasks })
  while (!(await done())) await sleep(100)
  await runner.stop()
}

switch (command) {
  case 'migrate':
    await runMigrations({ connectionString, schema })
    break
  case 'produce': {
    const utils = await makeWorkerUtils({ connectionString, schema })
    const add = async (task, options = {}) => String((await utils.addJob(task, {}, options)).id)
    const ids = {
      ok: [await add('ok'), await add('ok')],
      fails: await add('fails', { maxAttempts: 1 }),
      // Three failures put its next try 20 s (e^3) ahead: long enough to be seen retrying.
      flaky: await add('flaky', { maxAttempts: 10 }),
      later: await add('later', { runAt: new Date(Date.now() + 3600 * 1000) })
    }
    await workUntil({
      ok: async () => {},
      fails: async () => { throw new Error('no such mailbox') },
      flaky: async () => { throw new Error('smtp timeout') }
    }, async () =>
      (await attempts(utils, ids.ok[0])) === null &&
      (await attempts(utils, ids.ok[1])) === null &&
      (await attempts(utils, ids.fails)) === 1 &&
      (await attempts(utils, ids.flaky)) === 3)
    ids.hold = await add('hold')
    await utils.release()
    console.log(JSON.stringify(ids))
    break
  }
  case 'hold':
    await run({
      ...common,
      concurrency: 1,
      taskList: {
        hold: async (_payload, helpers) => {
          console.log(`HOLDING ${helpers.job.id}`)
          await new Promise(() => {})
        }
      }
    })
    await new Promise(() => {})
    break
  case 'cleanup': {
    const utils = await makeWorkerUtils({ connectionString, schema })
    await utils.cleanup({ tasks: ['GC_JOB_QUEUES', 'GC_TASK_IDENTIFIERS'] })
    await utils.release()
    break
  }
  case 'work': {
    let done = 0
    const deadline = Date.now() + 20000
    const runner = await run({
      ...common,
      concurrency: 1,
      taskList: { [arg]: async (_payload, helpers) => { console.log(`DONE ${helpers.job.id}`); done++ } }
    })
    while (done === 0 && Date.now() < deadline) await sleep(100)
    await sleep(300)
    await runner.stop()
    break
  }
  case 'crontab': {
    let fired = null
    const runner = await run({
      ...common,
      concurrency: 1,
      crontab: '* * * * * tick ?id=tick_every_minute',
      taskList: { tick: async (_payload, helpers) => { fired = helpers.job.id } }
    })
    const deadline = Date.now() + 90000
    while (fired === null && Date.now() < deadline) await sleep(100)
    await sleep(300)
    await runner.stop()
    console.log(`FIRED ${fired}`)
    break
  }
  default:
    throw new Error(`unknown command ${command}`)
}
process.exit(0)
