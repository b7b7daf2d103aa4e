//! A sparkline: a series as a line of eight-level block characters, for the terminal.

const LEVELS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];

/// One character per value, scaled to the largest; zero is the lowest block, so that a quiet
/// hour still shows as a place in the line.
pub fn sparkline(values: &[u64]) -> String {
    let top = values.iter().copied().max().unwrap_or(0);
    values
        .iter()
        .map(|v| {
            if top == 0 || *v == 0 {
                LEVELS[0]
            } else {
                // 1..=top over the seven levels above the lowest.
                let level = if top == 1 {
                    7
                } else {
                    1 + ((v - 1) * 6 / (top - 1)) as usize
                };
                LEVELS[level.min(7)]
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_scaled_to_the_largest() {
        assert_eq!(sparkline(&[0, 1, 4, 8, 0]), "▁▂▄█▁");
        assert_eq!(sparkline(&[0, 0]), "▁▁");
        assert_eq!(sparkline(&[]), "");
        assert_eq!(sparkline(&[5]), "█");
    }
}
