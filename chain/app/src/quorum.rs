//! The one quorum rule of the chain: strictly more than 2/3 of the total voting power. Validator
//! proposals use it, and so does every bridge attestation.

/// Whether `power` is strictly more than 2/3 of `total` (`power / total > 2/3`, computed as
/// `3 * power > 2 * total` in 128 bits: exact for any sum of 64-bit powers CometBFT accepts,
/// whose total stays far below 2^126 where the products would saturate). A zero total is never
/// exceeded.
pub fn exceeds_two_thirds(power: u128, total: u128) -> bool {
    total > 0 && power.saturating_mul(3) > total.saturating_mul(2)
}

/// The summed power (128 bits, so it cannot overflow) of the `members` whose key `has_voted`.
pub fn voted_power<T>(
    members: &[T],
    power: impl Fn(&T) -> u64,
    has_voted: impl Fn(&T) -> bool,
) -> u128 {
    members
        .iter()
        .filter(|m| has_voted(m))
        .fold(0u128, |acc, m| acc.saturating_add(u128::from(power(m))))
}

/// The summed power of every member.
pub fn total_power<T>(members: &[T], power: impl Fn(&T) -> u64) -> u128 {
    voted_power(members, power, |_| true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strictly_more_than_two_thirds() {
        assert!(!exceeds_two_thirds(2, 3));
        assert!(exceeds_two_thirds(3, 4));
        assert!(!exceeds_two_thirds(20, 30));
        assert!(exceeds_two_thirds(21, 30));
        assert!(!exceeds_two_thirds(0, 0));
        assert!(!exceeds_two_thirds(1, 0));
        assert!(exceeds_two_thirds(1, 1));
        let big = u128::MAX / 2;
        assert!(exceeds_two_thirds(big, big));
        assert!(!exceeds_two_thirds(big / 3 * 2, big));
    }

    #[test]
    fn voted_power_sums_only_voters() {
        let members = [(1u8, 10u64), (2, 20), (3, 30)];
        assert_eq!(voted_power(&members, |m| m.1, |m| m.0 != 2), 40);
        assert_eq!(total_power(&members, |m| m.1), 60);
    }
}
