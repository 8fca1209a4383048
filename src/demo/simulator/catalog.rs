//! The demo's imaginary company: its queues, job kinds, payloads, run times and the ways
//! its jobs fail. Producers draw jobs from here; workers decide from a claimed job's own
//! kind and payload how long it runs and whether it fails, as a real worker would.

use std::time::Duration;

use rand::RngExt;
use rand::rngs::StdRng;
use rand::seq::IndexedRandom;
use serde_json::{Value, json};

use crate::backend::native::worker::{ClaimedJob, NewJob};

/// One queue and its share of the overall arrival rate.
#[derive(Debug, Clone, Copy)]
pub struct QueueProfile {
    pub name: &'static str,
    pub share: f64,
}

/// Healthy queues first; `mailers` is the under-provisioned one.
pub const QUEUES: &[QueueProfile] = &[
    QueueProfile {
        name: "default",
        share: 0.35,
    },
    QueueProfile {
        name: "mailers",
        share: 0.20,
    },
    QueueProfile {
        name: "webhooks",
        share: 0.15,
    },
    QueueProfile {
        name: "billing",
        share: 0.12,
    },
    QueueProfile {
        name: "imports",
        share: 0.10,
    },
    QueueProfile {
        name: "media",
        share: 0.08,
    },
];

/// Queues served by the general worker pool (everything but `mailers`).
pub const GENERAL_QUEUES: &[&str] = &["default", "webhooks", "billing", "imports", "media"];

/// `mailers` is served by one worker that manages only this fraction of its arrivals,
/// so its backlog and its oldest-ready age grow for as long as the demo runs.
pub const MAILERS_CAPACITY: f64 = 0.5;

/// Webhook deliveries are tried this often, then they are dead.
pub const WEBHOOK_ATTEMPTS: i32 = 3;

pub const TENANTS: &[&str] = &[
    "acme", "globex", "initech", "umbrella", "hooli", "stark", "wayne", "wonka",
];

/// Webhook endpoints. Deliveries to the last three always fail, each in its own way; the
/// rest fail now and then. About 12% of deliveries go to a broken one, which with three
/// attempts each makes about a third of all delivery attempts fail.
const ENDPOINTS: &[(&str, &str)] = &[
    ("ep_1042", "https://hooks.acme.example/jobtop"),
    ("ep_1187", "https://api.globex.example/v2/events"),
    ("ep_1333", "https://initech.example/webhooks/incoming"),
    ("ep_1519", "https://hooks.hooli.example/billing"),
    ("ep_1608", "https://stark.example/api/webhooks"),
    ("ep_1722", "https://events.wayne.example/ingest"),
    ("ep_1890", "https://wonka.example/hooks/orders"),
    ("ep_1954", "https://umbrella.example/notify"),
    ("ep_2041", "https://hooks.acme.example/audit"),
    ("ep_2291", "https://legacy.globex.example/cgi-bin/hook"),
    ("ep_2307", "https://hooks.initech.example/v1"),
    ("ep_2318", "https://partner.umbrella.example/events"),
];
const BROKEN_ENDPOINTS: usize = 3;
const BROKEN_SHARE: f64 = 0.12;

const EVENTS: &[&str] = &[
    "invoice.paid",
    "invoice.created",
    "customer.updated",
    "order.shipped",
    "subscription.renewed",
    "payment.refunded",
];

fn pick<'a, T: ?Sized>(rng: &mut StdRng, items: &'a [&'a T]) -> &'a T {
    items.choose(rng).expect("non-empty list")
}

fn hex(rng: &mut StdRng, len: usize) -> String {
    (0..len)
        .map(|_| char::from_digit(rng.random_range(0..16), 16).unwrap_or('0'))
        .collect()
}

fn job(queue: &str, kind: &str, payload: Value) -> NewJob {
    NewJob {
        queue: queue.to_string(),
        kind: kind.to_string(),
        payload,
        delay_secs: 0.0,
        priority: 0,
        max_attempts: 5,
        tenant_id: None,
    }
}

/// The application's periodic jobs: (name, cron, kind). The scheduler enqueues each when
/// due, marked in its payload so jobtop's schedules view shows them (`native::schedules`).
/// `partners.sync` fails about half of its runs, for good: it has one attempt.
pub const PERIODIC: &[(&str, &str, &str)] = &[
    ("sessions_cleanup", "* * * * *", "sessions.cleanup"),
    ("partner_sync", "* * * * *", "partners.sync"),
    ("search_compact", "*/2 * * * *", "search.compact"),
];

/// One run of a periodic job, due now.
pub fn periodic_job(name: &str, cron: &str, kind: &str) -> NewJob {
    let mut j = job(
        "default",
        kind,
        json!({"periodic": {"name": name, "cron": cron}}),
    );
    j.max_attempts = 1;
    j
}

/// A fresh job for `queue`, due now unless the kind is one that is scheduled ahead.
pub fn new_job(queue: &str, rng: &mut StdRng) -> NewJob {
    match queue {
        "mailers" => mailer_job(rng),
        "webhooks" => webhook_job(rng),
        "billing" => billing_job(rng),
        "imports" => {
            let tenant = pick(rng, TENANTS);
            let batch_id = format!("imp_{}", hex(rng, 8));
            let row = rng.random_range(1..500);
            import_row(rng, tenant, &batch_id, row)
        }
        "media" => media_job(rng),
        _ => default_job(rng),
    }
}

fn default_job(rng: &mut StdRng) -> NewJob {
    let roll: f64 = rng.random();
    if roll < 0.40 {
        let key = format!(
            "{}:{}",
            pick(rng, &["product", "category", "user", "price"]),
            rng.random_range(1000..99999)
        );
        job(
            "default",
            "cache.warm",
            json!({"key": key, "region": pick(rng, &["eu-west-1", "us-east-1", "ap-south-1"])}),
        )
    } else if roll < 0.70 {
        let mut j = job(
            "default",
            "image.resize",
            json!({"image_id": format!("img_{}", hex(rng, 10)), "sizes": [64, 256, 1024], "format": "webp"}),
        );
        j.priority = 1;
        j
    } else if roll < 0.85 {
        job(
            "default",
            "search.reindex",
            json!({"index": pick(rng, &["products", "customers", "orders"]),
                   "doc_ids": [rng.random_range(10_000..99_999), rng.random_range(10_000..99_999)]}),
        )
    } else {
        let mut j = job(
            "default",
            "report.generate",
            json!({"report": pick(rng, &["monthly_revenue", "churn", "inventory", "signups"]),
                   "account_id": rng.random_range(1000..60000), "format": pick(rng, &["pdf", "csv"])}),
        );
        j.tenant_id = Some(pick(rng, TENANTS).to_string());
        j
    }
}

fn mailer_job(rng: &mut StdRng) -> NewJob {
    let user = rng.random_range(1000..250_000);
    if rng.random_bool(0.85) {
        let mut j = job(
            "mailers",
            "email.send",
            json!({"template": pick(rng, &["welcome", "receipt", "password_reset", "invoice", "shipping_update"]),
                   "to": format!("user{user}@example.com"), "user_id": user,
                   "locale": pick(rng, &["en", "de", "fr", "es"])}),
        );
        j.priority = if rng.random_bool(0.1) { 5 } else { 0 };
        j
    } else {
        // Digests are sent on the hour: scheduled ahead.
        let mut j = job(
            "mailers",
            "email.digest",
            json!({"user_id": user, "frequency": "daily", "to": format!("user{user}@example.com")}),
        );
        j.delay_secs = rng.random_range(60.0..3600.0);
        j
    }
}

fn webhook_job(rng: &mut StdRng) -> NewJob {
    let (endpoint_id, url) = if rng.random_bool(BROKEN_SHARE) {
        ENDPOINTS[ENDPOINTS.len() - BROKEN_ENDPOINTS..]
            .choose(rng)
            .copied()
            .unwrap_or(ENDPOINTS[0])
    } else {
        ENDPOINTS[..ENDPOINTS.len() - BROKEN_ENDPOINTS]
            .choose(rng)
            .copied()
            .unwrap_or(ENDPOINTS[0])
    };
    let tenant = pick(rng, TENANTS);
    let mut j = job(
        "webhooks",
        "webhook.deliver",
        json!({"endpoint_id": endpoint_id, "url": url, "event": pick(rng, EVENTS),
               "event_id": format!("evt_{}", hex(rng, 16))}),
    );
    j.max_attempts = WEBHOOK_ATTEMPTS;
    j.tenant_id = Some(tenant.to_string());
    j
}

/// A delivery to the endpoint that answers 503 to everything: these die within seconds.
pub fn doomed_webhook(rng: &mut StdRng) -> NewJob {
    let (endpoint_id, url) = ENDPOINTS[ENDPOINTS.len() - BROKEN_ENDPOINTS + 1];
    let mut j = webhook_job(rng);
    j.payload["endpoint_id"] = json!(endpoint_id);
    j.payload["url"] = json!(url);
    j
}

fn billing_job(rng: &mut StdRng) -> NewJob {
    let tenant = pick(rng, TENANTS).to_string();
    let customer = format!("cus_{}", hex(rng, 12));
    let roll: f64 = rng.random();
    let mut j = if roll < 0.4 {
        job(
            "billing",
            "invoice.create",
            json!({"customer_id": customer, "amount_cents": rng.random_range(900..250_000),
                   "currency": pick(rng, &["usd", "eur", "gbp"])}),
        )
    } else if roll < 0.75 {
        job(
            "billing",
            "charge.capture",
            json!({"customer_id": customer, "charge_id": format!("ch_{}", hex(rng, 14)),
                   "amount_cents": rng.random_range(900..250_000)}),
        )
    } else {
        // Renewals come due at the end of a billing period: mostly in the future.
        let mut j = job(
            "billing",
            "subscription.renew",
            json!({"subscription_id": format!("sub_{}", hex(rng, 12)),
                   "plan": pick(rng, &["starter", "pro", "enterprise"]), "customer_id": customer}),
        );
        if rng.random_bool(0.6) {
            j.delay_secs = rng.random_range(20.0..900.0);
        }
        j
    };
    j.tenant_id = Some(tenant);
    j.priority = 2;
    j
}

/// One row of a bulk import; bursts enqueue hundreds of these at once.
pub fn import_row(rng: &mut StdRng, tenant: &str, batch_id: &str, row: u32) -> NewJob {
    let mut j = job(
        "imports",
        "import.row",
        json!({"batch_id": batch_id, "row": row, "source": pick(rng, &["customers.csv", "orders.csv", "products.xlsx"]),
               "tenant": tenant}),
    );
    j.tenant_id = Some(tenant.to_string());
    j.priority = -1;
    j
}

/// The job that closes a bulk import, run once its rows are likely done.
pub fn import_finalize(tenant: &str, batch_id: &str, rows: u32, delay_secs: f64) -> NewJob {
    let mut j = job(
        "imports",
        "import.finalize",
        json!({"batch_id": batch_id, "rows": rows, "notify": true}),
    );
    j.tenant_id = Some(tenant.to_string());
    j.delay_secs = delay_secs;
    j
}

fn media_job(rng: &mut StdRng) -> NewJob {
    let roll: f64 = rng.random();
    if roll < 0.3 {
        transcode_job(rng)
    } else if roll < 0.8 {
        job(
            "media",
            "thumbnail.generate",
            json!({"video_id": rng.random_range(100_000..999_999), "at_secs": rng.random_range(1..120)}),
        )
    } else {
        job(
            "media",
            "audio.normalize",
            json!({"track_id": format!("trk_{}", hex(rng, 8)), "target_lufs": -14}),
        )
    }
}

pub fn transcode_job(rng: &mut StdRng) -> NewJob {
    job(
        "media",
        "video.transcode",
        json!({"video_id": rng.random_range(100_000..999_999),
               "preset": pick(rng, &["1080p", "720p", "480p", "hls-ladder"]),
               "source": format!("s3://media-uploads/{}.mov", hex(rng, 12))}),
    )
}

/// Jobs due later, so the scheduled column is never empty: renewals and nightly reports.
pub fn scheduled_jobs(rng: &mut StdRng, count: usize) -> Vec<NewJob> {
    (0..count)
        .map(|i| {
            if i % 4 == 3 {
                let mut j = job(
                    "default",
                    "report.generate",
                    json!({"report": "nightly_summary", "account_id": rng.random_range(1000..60000), "format": "pdf"}),
                );
                j.tenant_id = Some(pick(rng, TENANTS).to_string());
                j.delay_secs = rng.random_range(3600.0..6.0 * 3600.0);
                j
            } else {
                let mut j = billing_job(rng);
                j.kind = "subscription.renew".to_string();
                j.delay_secs = rng.random_range(30.0..1800.0);
                j
            }
        })
        .collect()
}

/// What running a job amounts to: how long it takes and how it ends.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub run_time: Duration,
    pub failure: Option<Failure>,
}

#[derive(Debug, Clone)]
pub struct Failure {
    pub error: String,
    /// None leaves the backoff to the schema.
    pub retry_in: Option<Duration>,
}

fn secs(s: f64) -> Duration {
    Duration::from_secs_f64(s.max(0.01))
}

fn fails(error: String, retry_in: Option<Duration>) -> Option<Failure> {
    Some(Failure { error, retry_in })
}

/// Decides a claimed job's fate from its kind and payload. `mailer_secs` is the mean time
/// the mailers worker needs per job (derived from the arrival rate, see MAILERS_CAPACITY).
pub fn perform(job: &ClaimedJob, rng: &mut StdRng, mailer_secs: f64) -> Outcome {
    let p = &job.payload;
    let num = |rng: &mut StdRng| rng.random_range(1000..99999);
    let (run, failure) = match job.kind.as_str() {
        "cache.warm" => (rng.random_range(0.05..0.2), None),
        "image.resize" => {
            let f = rng.random_bool(0.02).then(|| {
                format!(
                    "libvips: VipsJpeg: premature end of JPEG image ({}, offset {})",
                    str_field(p, "image_id"),
                    num(rng)
                )
            });
            (rng.random_range(0.2..0.6), f.and_then(|e| fails(e, None)))
        }
        "search.reindex" => (rng.random_range(0.3..1.0), None),
        "report.generate" => {
            let f = rng.random_bool(0.03).then(|| {
                format!(
                    "PG::QueryCanceled: canceling statement due to statement timeout (account_id={})",
                    int_field(p, "account_id")
                )
            });
            (rng.random_range(0.5..1.5), f.and_then(|e| fails(e, None)))
        }
        "email.send" | "email.digest" => {
            let f = rng.random_bool(0.01).then(|| {
                format!(
                    "Net::SMTPServerBusy: 421 4.7.0 Try again later (queue id {:X})",
                    rng.random_range(0x1000_0000u32..0xFFFF_FFFF)
                )
            });
            (
                mailer_secs * rng.random_range(0.7..1.3),
                f.and_then(|e| fails(e, None)),
            )
        }
        "webhook.deliver" => webhook_attempt(job, rng),
        "invoice.create" => (rng.random_range(0.1..0.4), None),
        "charge.capture" => {
            let f = rng.random_bool(0.05).then(|| {
                format!(
                    "card_declined: insufficient_funds (charge {}, decline code {})",
                    str_field(p, "charge_id"),
                    rng.random_range(51..62)
                )
            });
            (rng.random_range(0.2..0.6), f.and_then(|e| fails(e, None)))
        }
        "subscription.renew" => (rng.random_range(0.2..0.5), None),
        "import.row" => {
            let f = rng.random_bool(0.01).then(|| {
                format!(
                    "invalid row {} in {}: email 'user{}@' is not a valid address",
                    int_field(p, "row"),
                    str_field(p, "source"),
                    num(rng)
                )
            });
            (rng.random_range(0.03..0.12), f.and_then(|e| fails(e, None)))
        }
        "import.finalize" => (rng.random_range(0.3..0.8), None),
        "video.transcode" => {
            let f = rng.random_bool(0.04).then(|| {
                format!(
                    "ffmpeg exited with status 1: Invalid data found when processing input (video_id={})",
                    int_field(p, "video_id")
                )
            });
            (rng.random_range(2.0..5.0), f.and_then(|e| fails(e, None)))
        }
        "thumbnail.generate" => (rng.random_range(0.3..0.8), None),
        "sessions.cleanup" | "search.compact" => (rng.random_range(0.5..2.0), None),
        "partners.sync" => {
            let f = rng.random_bool(0.5).then(|| {
                format!(
                    "HTTP 502 Bad Gateway from partners-api.example.com/v2/catalog (request {})",
                    hex(rng, 12)
                )
            });
            (rng.random_range(1.0..3.0), f.and_then(|e| fails(e, None)))
        }
        "audio.normalize" => (rng.random_range(1.0..2.0), None),
        _ => (rng.random_range(0.1..0.5), None),
    };
    Outcome {
        run_time: secs(run),
        failure,
    }
}

/// A delivery to a broken endpoint always fails, each endpoint its own way; healthy ones
/// fail 10% of the time. Retries come back quickly: 1 s, then 2 s.
fn webhook_attempt(job: &ClaimedJob, rng: &mut StdRng) -> (f64, Option<Failure>) {
    let endpoint = str_field(&job.payload, "endpoint_id");
    let url = str_field(&job.payload, "url");
    let retry = Some(Duration::from_secs(1 << (job.attempts - 1).clamp(0, 6)));
    let request_id = format!("req_{}", hex(rng, 10));
    let broken = ENDPOINTS[ENDPOINTS.len() - BROKEN_ENDPOINTS..]
        .iter()
        .position(|(id, _)| *id == endpoint);
    match broken {
        Some(0) => (
            rng.random_range(1.8..2.2),
            fails(
                format!("timeout after 2000ms waiting for {url} ({request_id})"),
                retry,
            ),
        ),
        Some(1) => (
            rng.random_range(0.1..0.3),
            fails(
                format!(
                    "HTTP 503 Service Unavailable from {url} (endpoint {endpoint}, {request_id})"
                ),
                retry,
            ),
        ),
        Some(_) => (
            rng.random_range(0.02..0.08),
            fails(
                format!(
                    "connect ECONNREFUSED 10.0.{}.{}:443 ({url})",
                    rng.random_range(1..16),
                    rng.random_range(2..250)
                ),
                retry,
            ),
        ),
        None if rng.random_bool(0.1) => (
            rng.random_range(0.2..0.6),
            fails(
                format!("HTTP 502 Bad Gateway from {url} ({request_id})"),
                retry,
            ),
        ),
        None => (rng.random_range(0.1..0.5), None),
    }
}

fn str_field(payload: &Value, name: &str) -> String {
    payload
        .get(name)
        .and_then(Value::as_str)
        .unwrap_or("?")
        .to_string()
}

fn int_field(payload: &Value, name: &str) -> i64 {
    payload.get(name).and_then(Value::as_i64).unwrap_or(0)
}

/// A Kubernetes-style pod name, e.g. `worker-7d9c4b6f5-x2kqp`.
pub fn pod_name(rng: &mut StdRng, prefix: &str) -> String {
    const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    let suffix: String = (0..5)
        .map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char)
        .collect();
    format!("{prefix}-{}-{suffix}", hex(rng, 9))
}

pub fn host_name(rng: &mut StdRng) -> String {
    format!(
        "ip-10-0-{}-{}",
        rng.random_range(1..8),
        rng.random_range(2..250)
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    fn claimed(kind: &str, payload: Value, attempts: i32) -> ClaimedJob {
        ClaimedJob {
            id: 1,
            queue: "webhooks".into(),
            kind: kind.into(),
            tenant_id: None,
            payload,
            attempts,
            max_attempts: WEBHOOK_ATTEMPTS,
        }
    }

    #[test]
    fn shares_add_up_to_one() {
        let total: f64 = QUEUES.iter().map(|q| q.share).sum();
        assert!((total - 1.0).abs() < 1e-9, "{total}");
    }

    #[test]
    fn about_a_third_of_webhook_attempts_fail() {
        let mut rng = StdRng::seed_from_u64(7);
        let (mut attempts, mut failures) = (0, 0);
        for _ in 0..20_000 {
            let new = webhook_job(&mut rng);
            for attempt in 1..=WEBHOOK_ATTEMPTS {
                attempts += 1;
                let outcome =
                    webhook_attempt(&claimed(&new.kind, new.payload.clone(), attempt), &mut rng);
                if outcome.1.is_none() {
                    break;
                }
                failures += 1;
            }
        }
        let rate = failures as f64 / attempts as f64;
        assert!((0.28..0.38).contains(&rate), "failure rate {rate}");
    }

    #[test]
    fn broken_endpoints_always_fail_with_backoff() {
        let mut rng = StdRng::seed_from_u64(1);
        let payload = json!({"endpoint_id": "ep_2307", "url": "https://hooks.initech.example/v1"});
        let first = webhook_attempt(&claimed("webhook.deliver", payload.clone(), 1), &mut rng);
        let second = webhook_attempt(&claimed("webhook.deliver", payload, 2), &mut rng);
        let first = first.1.expect("broken endpoint fails");
        assert!(first.error.contains("503"), "{}", first.error);
        assert_eq!(first.retry_in, Some(Duration::from_secs(1)));
        assert_eq!(
            second.1.expect("fails again").retry_in,
            Some(Duration::from_secs(2))
        );
    }

    #[test]
    fn same_seed_same_jobs() {
        let jobs = |seed| {
            let mut rng = StdRng::seed_from_u64(seed);
            (0..20)
                .map(|_| new_job("billing", &mut rng).payload.to_string())
                .collect::<Vec<_>>()
        };
        assert_eq!(jobs(3), jobs(3));
        assert_ne!(jobs(3), jobs(4));
    }
}
