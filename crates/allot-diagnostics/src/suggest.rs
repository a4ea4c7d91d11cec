//! Did-you-mean suggestions.

/// The candidate closest to `name`, if it is close enough to be what was meant.
pub fn closest<'a>(name: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let limit = (name.chars().count() / 3).max(1);
    let lower = name.to_lowercase();
    candidates
        .into_iter()
        .filter(|c| *c != name)
        .map(|c| {
            // Case slips ("Store" for "store") count as one edit.
            let distance = if c.to_lowercase() == lower {
                1
            } else {
                strsim::damerau_levenshtein(name, c)
            };
            (distance, c)
        })
        .filter(|&(distance, c)| distance <= limit || (c.starts_with(name) && name.len() >= 3))
        .min_by(|a, b| a.0.cmp(&b.0).then(a.1.cmp(b.1)))
        .map(|(_, c)| c)
}

#[cfg(test)]
mod tests {
    use super::closest;

    #[test]
    fn suggests_near_misses_only() {
        let names = ["store_radius", "split_penalty", "ground_rate"];
        assert_eq!(closest("store_raduis", names), Some("store_radius"));
        assert_eq!(closest("ground", names), Some("ground_rate"));
        assert_eq!(closest("weight", names), None);
        assert_eq!(closest("KM", ["km", "mi"]), Some("km"));
    }
}
