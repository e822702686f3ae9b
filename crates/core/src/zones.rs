//! Zone matching and `fallthrough`, shared by every plugin that owns names.

use cairn_corefile::Token;

use crate::setup::SetupError;
use crate::wire::name::is_subdomain_wire;
use crate::wire::Name;

/// Returns the longest zone of `zones` that `qname` (wire form) lies in or equals.
pub fn longest_match<'z>(zones: &'z [Name], qname: &[u8]) -> Option<&'z Name> {
    zones
        .iter()
        .filter(|z| is_subdomain_wire(qname, z.wire()))
        .max_by_key(|z| z.wire().len())
}

/// Which names a plugin passes on instead of answering negatively (`fallthrough [ZONES...]`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Fallthrough {
    /// `None`: never. `Some(empty)`: every name. `Some(zones)`: names under these zones.
    zones: Option<Vec<Name>>,
}

impl Fallthrough {
    /// Never falls through.
    pub fn none() -> Self {
        Fallthrough { zones: None }
    }

    /// Falls through for every name.
    pub fn all() -> Self {
        Fallthrough {
            zones: Some(Vec::new()),
        }
    }

    /// Parses the arguments of a `fallthrough` line.
    pub fn parse(args: &[Token]) -> Result<Self, SetupError> {
        let mut zones = Vec::new();
        for t in args {
            for addr in cairn_corefile::parse_key(&t.text)
                .map_err(|e| t.error(format!("invalid fallthrough zone '{}': {e}", t.text)))?
            {
                let n = Name::parse(&addr.zone, None)
                    .map_err(|e| t.error(format!("invalid fallthrough zone '{}': {e}", t.text)))?;
                if n.is_root() {
                    return Ok(Self::all());
                }
                zones.push(n);
            }
        }
        Ok(Fallthrough { zones: Some(zones) })
    }

    /// Should a query for `qname` (wire form) go to the next plugin?
    pub fn through(&self, qname: &[u8]) -> bool {
        match &self.zones {
            None => false,
            Some(z) if z.is_empty() => true,
            Some(z) => z.iter().any(|zone| is_subdomain_wire(qname, zone.wire())),
        }
    }

    /// True when configured at all.
    pub fn is_enabled(&self) -> bool {
        self.zones.is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(s: &str) -> Name {
        Name::parse(s, None).unwrap()
    }

    #[test]
    fn longest_zone_wins() {
        let zones = vec![n("org."), n("example.org."), n(".")];
        assert_eq!(
            longest_match(&zones, n("a.example.org.").wire()),
            Some(&zones[1])
        );
        assert_eq!(longest_match(&zones, n("b.org.").wire()), Some(&zones[0]));
        assert_eq!(longest_match(&zones, n("b.net.").wire()), Some(&zones[2]));
        assert_eq!(longest_match(&zones[..2], n("b.net.").wire()), None);
    }

    #[test]
    fn fallthrough_scopes() {
        let t = |s: &str| Token {
            text: s.into(),
            file: "Corefile".into(),
            line: 1,
            quoted: false,
        };
        let f = Fallthrough::parse(&[t("in-addr.arpa"), t("ip6.arpa")]).unwrap();
        assert!(f.through(n("1.0.0.10.in-addr.arpa.").wire()));
        assert!(!f.through(n("example.org.").wire()));
        assert!(Fallthrough::parse(&[]).unwrap().through(n("x.").wire()));
        assert!(!Fallthrough::none().through(n("x.").wire()));
    }
}
