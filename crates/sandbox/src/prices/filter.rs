//! The price list's `$filter`: OData's `field eq 'value'` and `contains(field, 'value')` terms,
//! joined by `and` (binding tighter) and `or`, with parentheses; fields as Microsoft lists them.

use serde_json::Value;

/// The fields `$filter` may name (Microsoft's list), and the item field each reads.
const FILTERABLE: [(&str, &str); 15] = [
    ("armregionname", "armRegionName"),
    ("location", "location"),
    ("meterid", "meterId"),
    ("metername", "meterName"),
    ("productid", "productId"),
    ("skuid", "skuId"),
    ("productname", "productName"),
    ("skuname", "skuName"),
    ("servicename", "serviceName"),
    ("serviceid", "serviceId"),
    ("servicefamily", "serviceFamily"),
    ("pricetype", "type"),
    ("armskuname", "armSkuName"),
    ("isprimarymeterregion", "isPrimaryMeterRegion"),
    // Not a field of the items: a filter on it matches nothing, as in Azure.
    ("currencycode", ""),
];

/// A parsed `$filter`.
#[derive(Debug, PartialEq)]
pub(super) enum Filter {
    Eq(&'static str, String),
    Contains(&'static str, String),
    And(Box<Filter>, Box<Filter>),
    Or(Box<Filter>, Box<Filter>),
}

impl Filter {
    pub(super) fn parse(text: &str) -> Result<Filter, String> {
        let tokens = tokens(text)?;
        let mut parser = Parser { tokens, at: 0 };
        let filter = parser.or()?;
        match parser.tokens.get(parser.at) {
            None => Ok(filter),
            Some(token) => Err(format!("unexpected '{}'", token.text())),
        }
    }

    pub(super) fn matches(&self, item: &Value, case_sensitive: bool) -> bool {
        let value_of = |field: &str| match item.get(field) {
            Some(Value::String(s)) => Some(s.clone()),
            Some(Value::Bool(b)) => Some(b.to_string()),
            _ => None,
        };
        let same = |a: &str, b: &str| {
            if case_sensitive {
                a == b
            } else {
                a.eq_ignore_ascii_case(b)
            }
        };
        match self {
            Filter::Eq(field, value) => value_of(field).is_some_and(|v| same(&v, value)),
            Filter::Contains(field, part) => value_of(field).is_some_and(|v| {
                if case_sensitive {
                    v.contains(part.as_str())
                } else {
                    v.to_lowercase().contains(&part.to_lowercase())
                }
            }),
            Filter::And(a, b) => a.matches(item, case_sensitive) && b.matches(item, case_sensitive),
            Filter::Or(a, b) => a.matches(item, case_sensitive) || b.matches(item, case_sensitive),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Word(String),
    Text(String),
    Open,
    Close,
    Comma,
}

impl Token {
    fn text(&self) -> String {
        match self {
            Token::Word(w) => w.clone(),
            Token::Text(t) => format!("'{t}'"),
            Token::Open => "(".into(),
            Token::Close => ")".into(),
            Token::Comma => ",".into(),
        }
    }
}

fn tokens(text: &str) -> Result<Vec<Token>, String> {
    let mut tokens = Vec::new();
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            ' ' | '\t' => {}
            '(' => tokens.push(Token::Open),
            ')' => tokens.push(Token::Close),
            ',' => tokens.push(Token::Comma),
            '\'' => {
                let mut value = String::new();
                loop {
                    match chars.next() {
                        // OData doubles a quote inside a string.
                        Some('\'') if chars.peek() == Some(&'\'') => {
                            chars.next();
                            value.push('\'');
                        }
                        Some('\'') => break,
                        Some(c) => value.push(c),
                        None => return Err("a string is not closed".into()),
                    }
                }
                tokens.push(Token::Text(value));
            }
            c if c.is_alphanumeric() => {
                let mut word = c.to_string();
                while let Some(&c) = chars.peek() {
                    if !(c.is_alphanumeric() || c == '_') {
                        break;
                    }
                    word.push(c);
                    chars.next();
                }
                tokens.push(Token::Word(word));
            }
            other => return Err(format!("unexpected '{other}'")),
        }
    }
    Ok(tokens)
}

struct Parser {
    tokens: Vec<Token>,
    at: usize,
}

impl Parser {
    fn next(&mut self) -> Option<Token> {
        let token = self.tokens.get(self.at).cloned();
        self.at += 1;
        token
    }

    fn keyword(&mut self, word: &str) -> bool {
        let found = matches!(self.tokens.get(self.at), Some(Token::Word(w)) if w.eq_ignore_ascii_case(word));
        if found {
            self.at += 1;
        }
        found
    }

    fn or(&mut self) -> Result<Filter, String> {
        let mut filter = self.and()?;
        while self.keyword("or") {
            filter = Filter::Or(Box::new(filter), Box::new(self.and()?));
        }
        Ok(filter)
    }

    fn and(&mut self) -> Result<Filter, String> {
        let mut filter = self.term()?;
        while self.keyword("and") {
            filter = Filter::And(Box::new(filter), Box::new(self.term()?));
        }
        Ok(filter)
    }

    fn term(&mut self) -> Result<Filter, String> {
        match self.next() {
            Some(Token::Open) => {
                let inner = self.or()?;
                match self.next() {
                    Some(Token::Close) => Ok(inner),
                    _ => Err("a parenthesis is not closed".into()),
                }
            }
            Some(Token::Word(w)) if w.eq_ignore_ascii_case("contains") => {
                let (
                    Some(Token::Open),
                    Some(Token::Word(field)),
                    Some(Token::Comma),
                    Some(Token::Text(part)),
                    Some(Token::Close),
                ) = (
                    self.next(),
                    self.next(),
                    self.next(),
                    self.next(),
                    self.next(),
                )
                else {
                    return Err("contains takes (field, 'text')".into());
                };
                Ok(Filter::Contains(field_of(&field)?, part))
            }
            Some(Token::Word(field)) => {
                let field = field_of(&field)?;
                if !self.keyword("eq") {
                    return Err(format!("only 'eq' compares {field}"));
                }
                match self.next() {
                    Some(Token::Text(value)) => Ok(Filter::Eq(field, value)),
                    Some(Token::Word(w))
                        if field == "isPrimaryMeterRegion" && (w == "true" || w == "false") =>
                    {
                        Ok(Filter::Eq(field, w))
                    }
                    _ => Err(format!("{field} is compared with a quoted value")),
                }
            }
            Some(token) => Err(format!("unexpected '{}'", token.text())),
            None => Err("the filter ends too soon".into()),
        }
    }
}

fn field_of(name: &str) -> Result<&'static str, String> {
    FILTERABLE
        .iter()
        .find(|(lower, _)| name.eq_ignore_ascii_case(lower))
        .map(|(_, field)| *field)
        .ok_or_else(|| format!("'{name}' is not a field the price list filters on"))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn item(sku: &str) -> Value {
        json!({"serviceName": "IoT Hub", "skuName": sku, "armRegionName": "westeurope", "isPrimaryMeterRegion": true})
    }

    #[test]
    fn filters_read_as_odata() {
        let f = Filter::parse("serviceName eq 'IoT Hub' and (skuName eq 'S1' or skuName eq 'S2')")
            .unwrap();
        assert!(f.matches(&item("S1"), true));
        assert!(!f.matches(&item("B1"), true));
        // and binds tighter than or.
        let f = Filter::parse("skuName eq 'B1' or skuName eq 'S1' and armRegionName eq 'eastus'")
            .unwrap();
        assert!(f.matches(&item("B1"), true));
        assert!(!f.matches(&item("S1"), true));
        assert!(Filter::parse("contains(skuName, 'S')")
            .unwrap()
            .matches(&item("S3"), true));
        assert!(Filter::parse("isPrimaryMeterRegion eq true")
            .unwrap()
            .matches(&item("S3"), true));
        assert!(Filter::parse("serviceName eq 'iot hub'")
            .unwrap()
            .matches(&item("S1"), false));
        assert!(!Filter::parse("serviceName eq 'iot hub'")
            .unwrap()
            .matches(&item("S1"), true));
        // currencyCode is no field of an item: it matches nothing.
        assert!(!Filter::parse("currencyCode eq 'USD'")
            .unwrap()
            .matches(&item("S1"), true));
    }

    #[test]
    fn unreadable_filters_are_refused() {
        assert_eq!(
            Filter::parse("colour eq 'red'").unwrap_err(),
            "'colour' is not a field the price list filters on"
        );
        assert_eq!(
            Filter::parse("skuName ne 'S1'").unwrap_err(),
            "only 'eq' compares skuName"
        );
        assert_eq!(
            Filter::parse("skuName eq 'S1").unwrap_err(),
            "a string is not closed"
        );
        assert_eq!(
            Filter::parse("not(contains(skuName, 'S'))").unwrap_err(),
            "'not' is not a field the price list filters on"
        );
    }
}
