//! Parses `log [NAMES...] [FORMAT] { class CLASSES... }` (repeatable).

use std::sync::Arc;

use cairn_core::wire::Name;
use cairn_core::{SetupCtx, SetupError};
use cairn_corefile::{Directive, Token};

use super::classify::{Class, Classes};
use super::format::{Format, COMMON};
use super::{Log, Rule};

/// Registers one `log` handler holding the rules of every `log` line of the block.
pub fn setup(ctx: &mut SetupCtx<'_>) -> Result<(), SetupError> {
    let rules = parse(ctx.directives)?;
    let metadata = ctx.settings.directives.contains(&"metadata");
    ctx.add_plugin(Arc::new(Log { rules, metadata }));
    Ok(())
}

/// Reads the `log` lines into rules, in order.
pub(crate) fn parse(directives: &[Directive]) -> Result<Vec<Rule>, SetupError> {
    let mut rules = Vec::new();
    for d in directives {
        let first = rules.len();
        let args = d.args.as_slice();
        match args {
            [] => rules.push(rule(None, Format::parse(COMMON))),
            // One argument is always a name, even when it looks like a format.
            [one] => {
                if one.text.contains('{') {
                    cairn_core::warning!(
                        "log",
                        "{}:{}: '{}' is read as a name to log, not as a format; write 'log . {}' for a format",
                        one.file,
                        one.line,
                        one.text,
                        one.text
                    );
                }
                rules.push(rule(Some(one), Format::parse(COMMON)));
            }
            [names @ .., last] => {
                let (names, format) = if last.text.contains('{') {
                    (names, Format::from_corefile(&last.text))
                } else {
                    (args, Format::parse(COMMON))
                };
                for n in names {
                    rules.push(rule(Some(n), format.clone()));
                }
            }
        }
        let mut classes = Classes::default();
        for opt in &d.block {
            if opt.name.text != "class" {
                return Err(opt.unknown_property());
            }
            if opt.args.is_empty() {
                return Err(opt.arg_count_error());
            }
            for t in &opt.args {
                let c = Class::parse(&t.text)
                    .ok_or_else(|| t.error(format!("invalid Class: {}", t.text)))?;
                classes.insert(c);
            }
        }
        for r in &mut rules[first..] {
            r.classes = classes;
        }
    }
    Ok(rules)
}

/// A rule for a name scope (`None` = the root); a scope that is not a valid name matches
/// nothing, as in CoreDNS where it can never be a suffix of a query name.
fn rule(scope: Option<&Token>, format: Format) -> Rule {
    let scope = match scope {
        None => Some(Name::root()),
        Some(t) => match Name::parse(&t.text, None) {
            Ok(n) => Some(n.to_lowercase()),
            Err(e) => {
                cairn_core::warning!(
                    "log",
                    "{}:{}: '{}' is not a valid name ({e}); this rule logs nothing",
                    t.file,
                    t.line,
                    t.text
                );
                None
            }
        },
    };
    Rule {
        scope,
        classes: Classes::default(),
        format,
    }
}
