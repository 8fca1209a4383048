//! Choosing which table columns fit: the most important first, shown in their own order.

/// A column as the layout sees it.
#[derive(Debug, Clone, Copy)]
pub struct ColumnSpec {
    /// Cells it needs at least.
    pub min: u16,
    /// Cells it can use at most; more than `min` makes it grow into spare room.
    pub max: u16,
    /// 0 is kept first; larger numbers are dropped first on a narrow screen.
    pub priority: u8,
}

/// Widths per column (0 = hidden) that fit in `available` cells with `gap` between columns.
pub fn fit(specs: &[ColumnSpec], available: u16, gap: u16) -> Vec<u16> {
    let mut by_priority: Vec<usize> = (0..specs.len()).collect();
    by_priority.sort_by_key(|&i| (specs[i].priority, i));

    let mut widths = vec![0u16; specs.len()];
    let mut used: u16 = 0;
    for &i in &by_priority {
        let extra = specs[i].min + if used == 0 { 0 } else { gap };
        if used + extra <= available {
            widths[i] = specs[i].min;
            used += extra;
        }
    }
    // Spare room goes to growable columns, most important first.
    let mut spare = available.saturating_sub(used);
    for &i in &by_priority {
        if widths[i] == 0 || spare == 0 {
            continue;
        }
        let grow = (specs[i].max - specs[i].min).min(spare);
        widths[i] += grow;
        spare -= grow;
    }
    widths
}

/// Like `fit`, but the `filler` column (a message, say) gets only its minimum until every
/// other column has grown, then all the room that is left.
pub fn fit_with_filler(specs: &[ColumnSpec], available: u16, gap: u16, filler: usize) -> Vec<u16> {
    let mut capped = specs.to_vec();
    capped[filler].max = capped[filler].min;
    let mut widths = fit(&capped, available, gap);
    if widths[filler] > 0 {
        let shown = widths.iter().filter(|w| **w > 0).count() as u16;
        let used: u16 = widths.iter().sum::<u16>() + gap * shown.saturating_sub(1);
        widths[filler] += available.saturating_sub(used);
    }
    widths
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drops_low_priority_first_and_grows_the_rest() {
        let specs = [
            ColumnSpec {
                min: 8,
                max: 20,
                priority: 0,
            },
            ColumnSpec {
                min: 6,
                max: 6,
                priority: 2,
            },
            ColumnSpec {
                min: 6,
                max: 6,
                priority: 1,
            },
        ];
        assert_eq!(fit(&specs, 15, 1), vec![8, 0, 6]);
        assert_eq!(fit(&specs, 40, 1), vec![20, 6, 6]);
    }

    #[test]
    fn the_filler_grows_last() {
        let spec = |min, max, priority| ColumnSpec { min, max, priority };
        let specs = [spec(10, 100, 0), spec(5, 9, 1)];
        assert_eq!(fit(&specs, 40, 1), vec![34, 5]);
        assert_eq!(fit_with_filler(&specs, 40, 1, 0), vec![30, 9]);
        assert_eq!(fit_with_filler(&specs, 14, 1, 0), vec![14, 0]);
        assert_eq!(fit_with_filler(&specs, 16, 1, 0), vec![10, 5]);
    }
}
