//! IoT Hub's message routing query language, as a route's `condition` uses it: system
//! properties (`$connectionDeviceId`, `$contentType`, …), application properties by name, the
//! JSON body (`$body.a.b`, only when the message says `application/json` in UTF-8/16/32),
//! literals, comparisons, `AND`/`OR`/`NOT`, arithmetic and the functions Azure documents
//! (`IS_DEFINED`, `STARTS_WITH`, …). A reference to what a message lacks is undefined, and a
//! condition that is not `true` does not route.
//!
//! Azure's description: <https://learn.microsoft.com/azure/iot-hub/iot-hub-devguide-routing-query-syntax>.

use std::collections::BTreeMap;

use serde_json::Value;

/// A parsed condition.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Expr {
    Literal(Value),
    System(String),
    Application(String),
    Body(Vec<String>),
    Not(Box<Expr>),
    Negate(Box<Expr>),
    Binary(Box<Expr>, Op, Box<Expr>),
    Call(String, Vec<Expr>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Op {
    And,
    Or,
    Eq,
    Ne,
    Lt,
    Gt,
    Le,
    Ge,
    Add,
    Sub,
    Mul,
    Div,
    Mod,
}

/// Where a condition stops making sense: the 1-based column of the offending token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SyntaxError {
    pub(crate) column: usize,
}

/// What a condition can see of a message.
#[derive(Debug)]
pub(crate) struct Message<'a> {
    pub(crate) system: &'a BTreeMap<String, String>,
    pub(crate) application: &'a BTreeMap<String, String>,
    /// The body as JSON, when its content type and encoding let IoT Hub read it.
    pub(crate) body: Option<&'a Value>,
}

const FUNCTIONS: [&str; 16] = [
    "IS_DEFINED",
    "IS_BOOL",
    "IS_NUMBER",
    "IS_STRING",
    "IS_NULL",
    "IS_OBJECT",
    "IS_ARRAY",
    "IS_PRIMITIVE",
    "STARTS_WITH",
    "ENDS_WITH",
    "CONTAINS",
    "LOWER",
    "UPPER",
    "LENGTH",
    "CONCAT",
    "ABS",
];

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Name(String),
    Text(String),
    Number(f64),
    Symbol(&'static str),
}

fn tokens(condition: &str) -> Result<Vec<(Token, usize)>, SyntaxError> {
    let chars: Vec<char> = condition.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let column = i + 1;
        if c.is_whitespace() {
            i += 1;
        } else if c == '\'' || c == '"' {
            let mut text = String::new();
            i += 1;
            loop {
                match chars.get(i) {
                    None => return Err(SyntaxError { column }),
                    Some(&q) if q == c => {
                        i += 1;
                        break;
                    }
                    Some('\\') => {
                        text.push(*chars.get(i + 1).ok_or(SyntaxError { column })?);
                        i += 2;
                    }
                    Some(&other) => {
                        text.push(other);
                        i += 1;
                    }
                }
            }
            out.push((Token::Text(text), column));
        } else if c.is_ascii_digit() {
            let start = i;
            while i < chars.len() && (chars[i].is_ascii_digit() || chars[i] == '.') {
                i += 1;
            }
            let text: String = chars[start..i].iter().collect();
            let number = text.parse().map_err(|_| SyntaxError { column })?;
            out.push((Token::Number(number), column));
        } else if c.is_alphabetic() || c == '$' || c == '_' {
            let start = i;
            while i < chars.len()
                && (chars[i].is_alphanumeric() || matches!(chars[i], '$' | '_' | '-' | '.'))
            {
                i += 1;
            }
            out.push((Token::Name(chars[start..i].iter().collect()), column));
        } else {
            let two: String = chars[i..(i + 2).min(chars.len())].iter().collect();
            let symbol = ["<=", ">=", "<>", "!="]
                .into_iter()
                .find(|s| *s == two)
                .or_else(|| {
                    ["=", "<", ">", "(", ")", ",", "+", "-", "*", "/", "%"]
                        .into_iter()
                        .find(|s| s.starts_with(c))
                })
                .ok_or(SyntaxError { column })?;
            i += symbol.len();
            out.push((Token::Symbol(symbol), column));
        }
    }
    Ok(out)
}

struct Parser {
    tokens: Vec<(Token, usize)>,
    at: usize,
    end: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.at).map(|(t, _)| t)
    }

    fn error(&self) -> SyntaxError {
        SyntaxError {
            column: self.tokens.get(self.at).map_or(self.end, |(_, c)| *c),
        }
    }

    fn keyword(&mut self, word: &str) -> bool {
        if matches!(self.peek(), Some(Token::Name(n)) if n.eq_ignore_ascii_case(word)) {
            self.at += 1;
            true
        } else {
            false
        }
    }

    fn symbol(&mut self, symbols: &[&'static str]) -> Option<&'static str> {
        match self.peek() {
            Some(Token::Symbol(s)) if symbols.contains(s) => {
                let s = *s;
                self.at += 1;
                Some(s)
            }
            _ => None,
        }
    }

    fn or(&mut self) -> Result<Expr, SyntaxError> {
        let mut left = self.and()?;
        while self.keyword("OR") {
            left = Expr::Binary(Box::new(left), Op::Or, Box::new(self.and()?));
        }
        Ok(left)
    }

    fn and(&mut self) -> Result<Expr, SyntaxError> {
        let mut left = self.not()?;
        while self.keyword("AND") {
            left = Expr::Binary(Box::new(left), Op::And, Box::new(self.not()?));
        }
        Ok(left)
    }

    fn not(&mut self) -> Result<Expr, SyntaxError> {
        if self.keyword("NOT") {
            return Ok(Expr::Not(Box::new(self.not()?)));
        }
        self.comparison()
    }

    fn comparison(&mut self) -> Result<Expr, SyntaxError> {
        let left = self.sum()?;
        let op = match self.symbol(&["=", "!=", "<>", "<", ">", "<=", ">="]) {
            Some("=") => Op::Eq,
            Some("!=" | "<>") => Op::Ne,
            Some("<") => Op::Lt,
            Some(">") => Op::Gt,
            Some("<=") => Op::Le,
            Some(">=") => Op::Ge,
            _ => return Ok(left),
        };
        Ok(Expr::Binary(Box::new(left), op, Box::new(self.sum()?)))
    }

    fn sum(&mut self) -> Result<Expr, SyntaxError> {
        let mut left = self.product()?;
        while let Some(s) = self.symbol(&["+", "-"]) {
            let op = if s == "+" { Op::Add } else { Op::Sub };
            left = Expr::Binary(Box::new(left), op, Box::new(self.product()?));
        }
        Ok(left)
    }

    fn product(&mut self) -> Result<Expr, SyntaxError> {
        let mut left = self.unary()?;
        while let Some(s) = self.symbol(&["*", "/", "%"]) {
            let op = match s {
                "*" => Op::Mul,
                "/" => Op::Div,
                _ => Op::Mod,
            };
            left = Expr::Binary(Box::new(left), op, Box::new(self.unary()?));
        }
        Ok(left)
    }

    fn unary(&mut self) -> Result<Expr, SyntaxError> {
        if self.symbol(&["-"]).is_some() {
            return Ok(Expr::Negate(Box::new(self.unary()?)));
        }
        self.primary()
    }

    fn primary(&mut self) -> Result<Expr, SyntaxError> {
        let error = self.error();
        let Some((token, _)) = self.tokens.get(self.at).cloned() else {
            return Err(error);
        };
        self.at += 1;
        match token {
            Token::Text(t) => Ok(Expr::Literal(Value::String(t))),
            Token::Number(n) => Ok(Expr::Literal(serde_json::json!(n))),
            Token::Symbol("(") => {
                let inner = self.or()?;
                self.symbol(&[")"]).ok_or_else(|| self.error())?;
                Ok(inner)
            }
            Token::Symbol(_) => Err(error),
            Token::Name(name) => {
                let upper = name.to_ascii_uppercase();
                match upper.as_str() {
                    "TRUE" => return Ok(Expr::Literal(Value::Bool(true))),
                    "FALSE" => return Ok(Expr::Literal(Value::Bool(false))),
                    "NULL" => return Ok(Expr::Literal(Value::Null)),
                    "AND" | "OR" | "NOT" => return Err(error),
                    _ => {}
                }
                if self.symbol(&["("]).is_some() {
                    if !FUNCTIONS.contains(&upper.as_str()) {
                        return Err(error);
                    }
                    let mut arguments = Vec::new();
                    if self.symbol(&[")"]).is_none() {
                        loop {
                            arguments.push(self.or()?);
                            if self.symbol(&[")"]).is_some() {
                                break;
                            }
                            self.symbol(&[","]).ok_or_else(|| self.error())?;
                        }
                    }
                    return Ok(Expr::Call(upper, arguments));
                }
                if let Some(path) = name.strip_prefix("$body") {
                    let path: Vec<String> = path
                        .split('.')
                        .filter(|p| !p.is_empty())
                        .map(str::to_owned)
                        .collect();
                    return Ok(Expr::Body(path));
                }
                Ok(match name.strip_prefix('$') {
                    Some(system) => Expr::System(system.to_owned()),
                    None => Expr::Application(name),
                })
            }
        }
    }
}

impl Expr {
    /// Whether the condition reads the message body (`$body.…`).
    pub(crate) fn reads_body(&self) -> bool {
        match self {
            Expr::Body(_) => true,
            Expr::Literal(_) | Expr::System(_) | Expr::Application(_) => false,
            Expr::Not(inner) | Expr::Negate(inner) => inner.reads_body(),
            Expr::Binary(left, _, right) => left.reads_body() || right.reads_body(),
            Expr::Call(_, arguments) => arguments.iter().any(Expr::reads_body),
        }
    }
}

/// Parses a route's condition.
pub(crate) fn parse(condition: &str) -> Result<Expr, SyntaxError> {
    let tokens = tokens(condition)?;
    let mut parser = Parser {
        end: condition.chars().count() + 1,
        tokens,
        at: 0,
    };
    let expr = parser.or()?;
    if parser.at != parser.tokens.len() {
        return Err(parser.error());
    }
    Ok(expr)
}

/// Whether a message matches a condition: only `true` does.
pub(crate) fn matches(expr: &Expr, message: &Message) -> bool {
    evaluate(expr, message) == Some(Value::Bool(true))
}

/// `None` is undefined.
fn evaluate(expr: &Expr, m: &Message) -> Option<Value> {
    match expr {
        Expr::Literal(v) => Some(v.clone()),
        Expr::System(name) => m
            .system
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| Value::String(v.clone())),
        Expr::Application(name) => m.application.get(name).map(|v| Value::String(v.clone())),
        Expr::Body(path) => path
            .iter()
            .try_fold(m.body?, |value, key| value.get(key))
            .cloned(),
        Expr::Not(inner) => match evaluate(inner, m)? {
            Value::Bool(b) => Some(Value::Bool(!b)),
            _ => None,
        },
        Expr::Negate(inner) => Some(serde_json::json!(-evaluate(inner, m)?.as_f64()?)),
        Expr::Binary(left, op, right) => binary(evaluate(left, m), *op, || evaluate(right, m)),
        Expr::Call(name, arguments) => {
            let values: Vec<Option<Value>> = arguments.iter().map(|a| evaluate(a, m)).collect();
            call(name, &values)
        }
    }
}

fn binary(left: Option<Value>, op: Op, right: impl FnOnce() -> Option<Value>) -> Option<Value> {
    use Value::{Bool, Number, String as Text};
    match op {
        // Three-valued logic: false decides AND and true decides OR even beside undefined.
        Op::And => match (left, right()) {
            (Some(Bool(false)), _) | (_, Some(Bool(false))) => Some(Bool(false)),
            (Some(Bool(true)), Some(Bool(true))) => Some(Bool(true)),
            _ => None,
        },
        Op::Or => match (left, right()) {
            (Some(Bool(true)), _) | (_, Some(Bool(true))) => Some(Bool(true)),
            (Some(Bool(false)), Some(Bool(false))) => Some(Bool(false)),
            _ => None,
        },
        _ => {
            let (left, right) = (left?, right()?);
            let ordering = match (&left, &right) {
                (Number(a), Number(b)) => a.as_f64()?.partial_cmp(&b.as_f64()?),
                (Text(a), Text(b)) => Some(a.cmp(b)),
                (Bool(a), Bool(b)) => Some(a.cmp(b)),
                (Value::Null, Value::Null) => Some(std::cmp::Ordering::Equal),
                _ => None,
            };
            let compare = |test: fn(std::cmp::Ordering) -> bool| ordering.map(|o| Bool(test(o)));
            let arithmetic = |f: fn(f64, f64) -> f64| {
                Some(serde_json::json!(f(left.as_f64()?, right.as_f64()?)))
            };
            match op {
                Op::Eq => compare(|o| o.is_eq()),
                Op::Ne => compare(|o| o.is_ne()),
                Op::Lt => compare(|o| o.is_lt()),
                Op::Gt => compare(|o| o.is_gt()),
                Op::Le => compare(|o| o.is_le()),
                Op::Ge => compare(|o| o.is_ge()),
                Op::Add => arithmetic(|a, b| a + b),
                Op::Sub => arithmetic(|a, b| a - b),
                Op::Mul => arithmetic(|a, b| a * b),
                Op::Div => arithmetic(|a, b| a / b),
                Op::Mod => arithmetic(|a, b| a % b),
                Op::And | Op::Or => None,
            }
        }
    }
}

fn call(name: &str, values: &[Option<Value>]) -> Option<Value> {
    let bool = |b: bool| Some(Value::Bool(b));
    let first = values.first().cloned().flatten();
    let text = |i: usize| values.get(i)?.as_ref()?.as_str().map(str::to_owned);
    match name {
        "IS_DEFINED" => bool(first.is_some()),
        "IS_BOOL" => bool(matches!(first, Some(Value::Bool(_)))),
        "IS_NUMBER" => bool(matches!(first, Some(Value::Number(_)))),
        "IS_STRING" => bool(matches!(first, Some(Value::String(_)))),
        "IS_NULL" => bool(matches!(first, Some(Value::Null))),
        "IS_OBJECT" => bool(matches!(first, Some(Value::Object(_)))),
        "IS_ARRAY" => bool(matches!(first, Some(Value::Array(_)))),
        "IS_PRIMITIVE" => bool(matches!(
            first,
            Some(Value::Bool(_) | Value::Number(_) | Value::String(_) | Value::Null)
        )),
        "STARTS_WITH" => bool(text(0)?.starts_with(&text(1)?)),
        "ENDS_WITH" => bool(text(0)?.ends_with(&text(1)?)),
        "CONTAINS" => bool(text(0)?.contains(&text(1)?)),
        "LOWER" => Some(Value::String(text(0)?.to_lowercase())),
        "UPPER" => Some(Value::String(text(0)?.to_uppercase())),
        "LENGTH" => Some(serde_json::json!(text(0)?.chars().count())),
        "CONCAT" => values
            .iter()
            .map(|v| v.as_ref()?.as_str().map(str::to_owned))
            .collect::<Option<String>>()
            .map(Value::String),
        "ABS" => Some(serde_json::json!(first?.as_f64()?.abs())),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn message_matches(condition: &str, body: Option<&Value>) -> bool {
        let system = BTreeMap::from([
            (
                "connectionDeviceId".to_owned(),
                "io.microshare.contact".to_owned(),
            ),
            ("contentType".to_owned(), "application/json".to_owned()),
        ]);
        let application = BTreeMap::from([("level".to_owned(), "storage".to_owned())]);
        matches(
            &parse(condition).unwrap(),
            &Message {
                system: &system,
                application: &application,
                body,
            },
        )
    }

    #[test]
    fn a_stream_is_routed_by_its_device() {
        assert!(message_matches(
            "$connectionDeviceId = 'io.microshare.contact'",
            None
        ));
        assert!(!message_matches(
            "$connectionDeviceId = 'io.microshare.event'",
            None
        ));
        assert!(message_matches("true", None));
        assert!(message_matches(
            "$contentType = \"application/json\" AND level = 'storage'",
            None
        ));
        assert!(message_matches(
            "NOT ($connectionDeviceId <> 'io.microshare.contact')",
            None
        ));
    }

    #[test]
    fn what_a_message_lacks_is_undefined_and_does_not_route() {
        assert!(!message_matches("missing = 'x'", None));
        assert!(!message_matches("NOT (missing = 'x')", None));
        assert!(message_matches("missing = 'x' OR true", None));
        assert!(!message_matches("$body.temperature > 20", None));
        assert!(message_matches("NOT IS_DEFINED(missing)", None));
    }

    #[test]
    fn the_body_is_read_when_it_is_json() {
        let body = json!({ "temperature": 21.5, "site": { "name": "Plant 4" } });
        assert!(message_matches(
            "$body.temperature > 20 AND $body.temperature * 2 = 43",
            Some(&body)
        ));
        assert!(message_matches(
            "STARTS_WITH($body.site.name, 'Plant')",
            Some(&body)
        ));
        assert!(!message_matches("$body.temperature > '20'", Some(&body)));
    }

    #[test]
    fn only_conditions_on_the_body_read_it() {
        assert!(parse("$body.temperature > 20 OR level = 'x'")
            .unwrap()
            .reads_body());
        assert!(parse("IS_DEFINED($body.site)").unwrap().reads_body());
        assert!(!parse("$connectionDeviceId = 'a' AND NOT (level = 'b')")
            .unwrap()
            .reads_body());
    }

    #[test]
    fn syntax_errors_say_where() {
        assert_eq!(
            parse("$connectionDeviceId = "),
            Err(SyntaxError { column: 23 })
        );
        assert_eq!(parse("a == 'b'"), Err(SyntaxError { column: 4 }));
        assert_eq!(parse("level = 'x"), Err(SyntaxError { column: 9 }));
        assert_eq!(parse("NOPE(level)"), Err(SyntaxError { column: 1 }));
        assert_eq!(parse("(true"), Err(SyntaxError { column: 6 }));
    }
}
