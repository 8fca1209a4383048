//! The benchmark's figures as a plain-text table (Markdown, so it can be pasted as is).

use std::fmt::Write;

use super::{QueryFigures, Report};
use crate::bench::watchers::Mode;

fn thousands(n: i64) -> String {
    let s = n.unsigned_abs().to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    if n < 0 { format!("-{out}") } else { out }
}

fn ms(v: f64) -> String {
    if v >= 100.0 {
        thousands(v.round() as i64)
    } else if v >= 10.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    }
}

fn query_row(out: &mut String, q: &QueryFigures) {
    let _ = writeln!(
        out,
        "| {} | {} | {} | {} | {} |",
        q.name.trim(),
        ms(q.time.median_ms),
        ms(q.time.p95_ms),
        thousands(q.plan.buffers()),
        q.note
    );
}

pub fn table(r: &Report) -> String {
    let mut out = String::new();
    let _ = writeln!(out);
    if r.database != "-" {
        let _ = writeln!(
            out,
            "jobtop bench, {}: {} rows{} in {} ({:.0} MB with indexes), PostgreSQL {}, {} cores, count cap {}",
            r.backend,
            thousands(r.rows),
            if r.backlog > 0 {
                format!(" + {} backlog", thousands(r.backlog))
            } else {
                String::new()
            },
            r.tables.join(", "),
            r.table_size_mb.unwrap_or(0.0),
            r.server_version,
            r.cores,
            thousands(r.count_cap)
        );
        let _ = writeln!(out);
        let _ = writeln!(out, "| query | median ms | p95 ms | buffers | note |");
        let _ = writeln!(out, "|---|---:|---:|---:|---|");
        if let Some(o) = &r.overview {
            query_row(&mut out, o);
        }
        for p in &r.overview_parts {
            let mut p = p.clone();
            p.name = format!("· {}", p.name.trim());
            query_row(&mut out, &p);
        }
        if let Some(first) = r.overview_first_poll_ms {
            let _ = writeln!(
                out,
                "| overview, a new monitor's first poll | {} | | | reads the whole hour once |",
                ms(first)
            );
        }
        if let Some(next) = r.overview_next_first_poll_ms {
            let _ = writeln!(
                out,
                "| overview, the next new monitor's first poll | {} | | | finds the others' passes in jobtop.tallies |",
                ms(next)
            );
        }
        if let Some(n) = &r.naive {
            query_row(&mut out, n);
        }
        if let Some(ratio) = r.naive_ratio {
            let _ = writeln!(
                out,
                "| **naive ÷ overview** | **{}×** | | | the headline |",
                // On a small table the naive count can win: say so rather than print 0.
                if ratio < 10.0 {
                    format!("{ratio:.1}")
                } else {
                    thousands(ratio.round() as i64)
                }
            );
        }
        for d in &r.drill {
            // A read the schema cannot make was not timed: no figures, the reason instead.
            let (median, p95) = if d.time.n == 0 {
                ("–".to_string(), "–".to_string())
            } else {
                (ms(d.time.median_ms), ms(d.time.p95_ms))
            };
            let _ = writeln!(out, "| {} | {median} | {p95} | | {} |", d.name, d.note);
        }
        let _ = writeln!(out);
        let _ = writeln!(
            out,
            "| watchers at 1 Hz | seconds | polls | poll median ms | poll p95 ms | work median ms | DB server CPU (cores) | their sessions (cores) | led / followed / alone |"
        );
        let _ = writeln!(out, "|---|---:|---:|---:|---:|---:|---:|---:|---|");
        for w in &r.watchers {
            let mode = match w.mode {
                Mode::Alone => "each polls alone",
                Mode::Shared => "shared snapshot",
            };
            let cores = |c: Option<f64>| c.map_or("n/a".to_string(), |c| format!("{c:.3}"));
            let _ = writeln!(
                out,
                "| {} {} | {:.0} | {} | {} | {} | {} | {} | {} | {} / {} / {} |",
                w.watchers,
                mode,
                w.seconds,
                w.polls,
                ms(w.poll.median_ms),
                ms(w.poll.p95_ms),
                ms(w.poll_work.median_ms),
                cores(w.server_cores()),
                cores(w.watcher_cores()),
                w.polls_led,
                w.polls_followed,
                w.polls_alone
            );
        }
        // Why shared watchers could not share, in the wrapper's own words.
        if let Some(why) = r.watchers.iter().find_map(|w| w.alone_because.as_ref()) {
            let _ = writeln!(out, "\nshared snapshot unavailable: {why}");
        }
    }
    if let Some(f) = &r.frames {
        let _ = writeln!(out);
        let _ = writeln!(
            out,
            "| terminal, {}×{}, {} queues, {} workers | value |",
            f.cols, f.rows, f.queues, f.workers
        );
        let _ = writeln!(out, "|---|---:|");
        let _ = writeln!(
            out,
            "| frame render (ui::draw), median / p95 | {} / {} ms |",
            ms(f.render.median_ms),
            ms(f.render.p95_ms)
        );
        let _ = writeln!(
            out,
            "| whole frame with diff and escape codes, figures changing, median / p95 | {} / {} ms |",
            ms(f.frame_changing.median_ms),
            ms(f.frame_changing.p95_ms)
        );
        let _ = writeln!(
            out,
            "| bytes, first frame | {} |",
            thousands(f.bytes_first_frame as i64)
        );
        let _ = writeln!(
            out,
            "| bytes per refresh, nothing changed | {} |",
            f.bytes_unchanged
        );
        let _ = writeln!(
            out,
            "| bytes per refresh, clock moved a second | {} |",
            thousands(f.bytes_clock_only as i64)
        );
        let _ = writeln!(
            out,
            "| bytes per refresh, 10 queues' counts and all ages changed | {} |",
            thousands(f.bytes_counts_changed as i64)
        );
    }
    if let Some(p) = &r.monitor_process {
        let _ = writeln!(
            out,
            "| monitor process at 1 Hz for {:.0}s: CPU | {:.2}% of a core |",
            p.seconds, p.cpu_percent
        );
        let _ = writeln!(
            out,
            "| monitor process: resident memory (peak) | {:.1} MB ({:.1} MB) |",
            p.rss_mb, p.peak_rss_mb
        );
        let _ = writeln!(
            out,
            "| monitor process: bytes written to the terminal | {} per second |",
            thousands(p.bytes_per_second.round() as i64)
        );
    }
    for note in &r.notes {
        let _ = writeln!(out, "\nnote: {note}");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_read_well() {
        assert_eq!(thousands(1_234_567), "1,234,567");
        assert_eq!(thousands(999), "999");
        assert_eq!(ms(1684.4), "1,684");
        assert_eq!(ms(5.91), "5.91");
        assert_eq!(ms(12.34), "12.3");
    }
}
