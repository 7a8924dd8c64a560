//! The FHIRPath expressions of `generalize` cases, evaluated on one primitive value (`$this`):
//! literals (strings, numbers, `@` dates, `true`/`false`), `$this`, parentheses, unions with
//! `|`, `+` and `-`, comparisons (`=`, `!=`, `<`, `<=`, `>`, `>=`), `in` and `contains`,
//! `and`, `or`, and the string functions `startsWith`, `endsWith`, `contains`, `substring`,
//! `length`, `upper`, `lower`. Dates compare at the precision both sides have (`2002` is
//! between `@1990-01-01` and `@2020-01-01`). Expressions are parsed once, when the
//! configuration loads; anything outside the subset is refused there.

/// A value.
#[derive(Debug, Clone, PartialEq)]
pub enum Val {
    Str(String),
    Num(f64),
    Date(String),
    Bool(bool),
    List(Vec<Val>),
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    This,
    Str(String),
    Num(f64),
    Date(String),
    Ident(String),
    Op(&'static str),
    LParen,
    RParen,
    Comma,
    Dot,
}

fn lex(s: &str) -> Option<Vec<Tok>> {
    let b: Vec<char> = s.chars().collect();
    let mut i = 0;
    let mut out = Vec::new();
    while i < b.len() {
        let c = b[i];
        match c {
            ' ' | '\t' | '\n' => i += 1,
            '(' => {
                out.push(Tok::LParen);
                i += 1;
            }
            ')' => {
                out.push(Tok::RParen);
                i += 1;
            }
            ',' => {
                out.push(Tok::Comma);
                i += 1;
            }
            '.' => {
                out.push(Tok::Dot);
                i += 1;
            }
            '\'' => {
                let mut v = String::new();
                i += 1;
                while i < b.len() && b[i] != '\'' {
                    if b[i] == '\\' && i + 1 < b.len() {
                        i += 1;
                    }
                    v.push(b[i]);
                    i += 1;
                }
                if i >= b.len() {
                    return None;
                }
                i += 1;
                out.push(Tok::Str(v));
            }
            '@' => {
                let start = i + 1;
                i += 1;
                while i < b.len()
                    && (b[i].is_ascii_alphanumeric() || matches!(b[i], '-' | ':' | '.' | '+'))
                {
                    i += 1;
                }
                out.push(Tok::Date(b[start..i].iter().collect()));
            }
            '$' => {
                let word: String = b[i..].iter().take(5).collect();
                if word != "$this" {
                    return None;
                }
                out.push(Tok::This);
                i += 5;
            }
            '<' | '>' | '!' | '=' => {
                let two: String = b[i..(i + 2).min(b.len())].iter().collect();
                let op = match two.as_str() {
                    "<=" => "<=",
                    ">=" => ">=",
                    "!=" => "!=",
                    _ => match c {
                        '<' => "<",
                        '>' => ">",
                        '=' => "=",
                        _ => return None,
                    },
                };
                i += op.len();
                out.push(Tok::Op(op));
            }
            '|' | '+' | '-' => {
                out.push(Tok::Op(match c {
                    '|' => "|",
                    '+' => "+",
                    _ => "-",
                }));
                i += 1;
            }
            c if c.is_ascii_digit() => {
                let start = i;
                while i < b.len() && (b[i].is_ascii_digit() || b[i] == '.') {
                    i += 1;
                }
                out.push(Tok::Num(
                    b[start..i].iter().collect::<String>().parse().ok()?,
                ));
            }
            c if c.is_ascii_alphabetic() => {
                let start = i;
                while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == '_') {
                    i += 1;
                }
                out.push(Tok::Ident(b[start..i].iter().collect()));
            }
            _ => return None,
        }
    }
    Some(out)
}

/// A parsed expression.
#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    This,
    Lit(Val),
    Bin(&'static str, Box<Expr>, Box<Expr>),
    Call(Box<Expr>, String, Vec<Expr>),
}

struct Parser {
    toks: Vec<Tok>,
    at: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.at)
    }

    fn word(&self, w: &str) -> bool {
        matches!(self.peek(), Some(Tok::Ident(x)) if x == w)
    }

    fn op(&self, o: &str) -> bool {
        matches!(self.peek(), Some(Tok::Op(x)) if *x == o)
    }

    fn or(&mut self) -> Option<Expr> {
        let mut l = self.and()?;
        while self.word("or") {
            self.at += 1;
            l = Expr::Bin("or", Box::new(l), Box::new(self.and()?));
        }
        Some(l)
    }

    fn and(&mut self) -> Option<Expr> {
        let mut l = self.cmp()?;
        while self.word("and") {
            self.at += 1;
            l = Expr::Bin("and", Box::new(l), Box::new(self.cmp()?));
        }
        Some(l)
    }

    fn cmp(&mut self) -> Option<Expr> {
        let l = self.union()?;
        let op = match self.peek() {
            Some(Tok::Op(o)) if matches!(*o, "=" | "!=" | "<" | "<=" | ">" | ">=") => *o,
            Some(Tok::Ident(w)) if w == "in" => "in",
            Some(Tok::Ident(w)) if w == "contains" => "contains",
            _ => return Some(l),
        };
        self.at += 1;
        Some(Expr::Bin(op, Box::new(l), Box::new(self.union()?)))
    }

    fn union(&mut self) -> Option<Expr> {
        let mut l = self.additive()?;
        while self.op("|") {
            self.at += 1;
            l = Expr::Bin("|", Box::new(l), Box::new(self.additive()?));
        }
        Some(l)
    }

    fn additive(&mut self) -> Option<Expr> {
        let mut l = self.postfix()?;
        while self.op("+") || self.op("-") {
            let o = if self.op("+") { "+" } else { "-" };
            self.at += 1;
            l = Expr::Bin(o, Box::new(l), Box::new(self.postfix()?));
        }
        Some(l)
    }

    fn postfix(&mut self) -> Option<Expr> {
        let mut e = self.primary()?;
        while self.peek() == Some(&Tok::Dot) {
            self.at += 1;
            let Some(Tok::Ident(name)) = self.peek().cloned() else {
                return None;
            };
            self.at += 1;
            if self.peek() != Some(&Tok::LParen) {
                return None;
            }
            self.at += 1;
            let mut args = Vec::new();
            while self.peek() != Some(&Tok::RParen) {
                args.push(self.or()?);
                if self.peek() == Some(&Tok::Comma) {
                    self.at += 1;
                }
            }
            self.at += 1;
            if !matches!(
                name.as_str(),
                "startsWith" | "endsWith" | "contains" | "substring" | "length" | "upper" | "lower"
            ) {
                return None;
            }
            e = Expr::Call(Box::new(e), name, args);
        }
        Some(e)
    }

    fn primary(&mut self) -> Option<Expr> {
        let t = self.peek()?.clone();
        self.at += 1;
        Some(match t {
            Tok::This => Expr::This,
            Tok::Str(s) => Expr::Lit(Val::Str(s)),
            Tok::Num(n) => Expr::Lit(Val::Num(n)),
            Tok::Date(d) => Expr::Lit(Val::Date(d)),
            Tok::Ident(w) if w == "true" => Expr::Lit(Val::Bool(true)),
            Tok::Ident(w) if w == "false" => Expr::Lit(Val::Bool(false)),
            Tok::LParen => {
                let e = self.or()?;
                (self.peek() == Some(&Tok::RParen)).then_some(())?;
                self.at += 1;
                e
            }
            _ => return None,
        })
    }
}

impl Expr {
    /// Parses an expression; `None` outside the subset.
    pub fn parse(s: &str) -> Option<Self> {
        let mut p = Parser {
            toks: lex(s)?,
            at: 0,
        };
        let e = p.or()?;
        (p.at == p.toks.len()).then_some(e)
    }

    /// Evaluates with `this`; `None` when the result is empty (a failed comparison of
    /// incompatible values).
    pub fn eval(&self, this: &Val) -> Option<Val> {
        Some(match self {
            Self::This => this.clone(),
            Self::Lit(v) => v.clone(),
            Self::Call(target, name, args) => {
                let t = target.eval(this)?;
                let Val::Str(s) = t else { return None };
                let arg = |i: usize| args.get(i).and_then(|a| a.eval(this));
                match name.as_str() {
                    "startsWith" | "endsWith" | "contains" => {
                        let Some(Val::Str(x)) = arg(0) else {
                            return None;
                        };
                        Val::Bool(match name.as_str() {
                            "startsWith" => s.starts_with(&x),
                            "endsWith" => s.ends_with(&x),
                            _ => s.contains(&x),
                        })
                    }
                    "substring" => {
                        let Some(Val::Num(start)) = arg(0) else {
                            return None;
                        };
                        let chars: Vec<char> = s.chars().collect();
                        let start = (start as usize).min(chars.len());
                        let end = match arg(1) {
                            Some(Val::Num(n)) => (start + n as usize).min(chars.len()),
                            _ => chars.len(),
                        };
                        Val::Str(chars[start..end].iter().collect())
                    }
                    "length" => Val::Num(s.chars().count() as f64),
                    "upper" => Val::Str(s.to_uppercase()),
                    _ => Val::Str(s.to_lowercase()),
                }
            }
            Self::Bin(op, l, r) => {
                let (a, b) = (l.eval(this), r.eval(this));
                match *op {
                    // an operand that could not be evaluated (a name compared with a number)
                    // is an error for the whole condition, not a false
                    "and" => Val::Bool(truthy(&a?) && truthy(&b?)),
                    "or" => Val::Bool(truthy(&a?) || truthy(&b?)),
                    "|" => {
                        let mut v = list(a);
                        v.extend(list(b));
                        Val::List(v)
                    }
                    "in" => Val::Bool(list(b).iter().any(|x| Some(x) == a.as_ref())),
                    "contains" => Val::Bool(list(a).iter().any(|x| Some(x) == b.as_ref())),
                    "+" => match (a?, b?) {
                        (Val::Str(x), Val::Str(y)) => Val::Str(x + &y),
                        (Val::Num(x), Val::Num(y)) => Val::Num(x + y),
                        _ => return None,
                    },
                    "-" => match (a?, b?) {
                        (Val::Num(x), Val::Num(y)) => Val::Num(x - y),
                        _ => return None,
                    },
                    o => Val::Bool(compare(o, &a?, &b?)?),
                }
            }
        })
    }
}

fn truthy(v: &Val) -> bool {
    matches!(v, Val::Bool(true))
}

fn list(v: Option<Val>) -> Vec<Val> {
    match v {
        Some(Val::List(l)) => l,
        Some(x) => vec![x],
        None => Vec::new(),
    }
}

/// Digits of a date or date-time, to the precision it has (`2002`, `20020315`, ...).
fn date_digits(d: &str) -> String {
    let body = d.split(['Z', '+']).next().unwrap_or(d);
    let body = match body.find('T') {
        Some(t) => {
            // a zone written with '-' after the time
            let (date, time) = body.split_at(t);
            let time = time.split('-').next().unwrap_or(time);
            format!("{date}{time}")
        }
        None => body.to_owned(),
    };
    body.chars().filter(char::is_ascii_digit).collect()
}

fn compare(op: &str, a: &Val, b: &Val) -> Option<bool> {
    let ord = match (a, b) {
        (Val::Num(x), Val::Num(y)) => x.partial_cmp(y)?,
        (Val::Str(x), Val::Str(y)) => x.cmp(y),
        (Val::Date(x), Val::Date(y))
        | (Val::Str(x), Val::Date(y))
        | (Val::Date(x), Val::Str(y)) => {
            let (x, y) = (date_digits(x), date_digits(y));
            let n = x.len().min(y.len());
            if n < 4 {
                return None;
            }
            x[..n].cmp(&y[..n])
        }
        (Val::Bool(x), Val::Bool(y)) => x.cmp(y),
        _ => return None,
    };
    use std::cmp::Ordering::*;
    Some(match op {
        "=" => ord == Equal,
        "!=" => ord != Equal,
        "<" => ord == Less,
        "<=" => ord != Greater,
        ">" => ord == Greater,
        _ => ord != Less,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(e: &str, this: Val) -> Option<Val> {
        Expr::parse(e).unwrap().eval(&this)
    }

    #[test]
    fn the_configurations_expressions_evaluate() {
        let s = |x: &str| Val::Str(x.into());
        let langs = "$this in ('en-AU' | 'en-CA' | 'en-GB' | 'en-US')";
        assert_eq!(ev(langs, s("en-AU")), Some(Val::Bool(true)));
        assert_eq!(ev(langs, s("fr-FR")), Some(Val::Bool(false)));
        assert_eq!(
            ev("('es-AR' | 'es-ES') contains $this", s("es-ES")),
            Some(Val::Bool(true))
        );
        let range = "$this <= @2020-01-01 and $this >= @1990-01-01";
        assert_eq!(
            ev(range, Val::Date("2010-05-07".into())),
            Some(Val::Bool(true))
        );
        assert_eq!(
            ev(range, Val::Date("1985-05-07".into())),
            Some(Val::Bool(false))
        );
        assert_eq!(ev(range, Val::Date("2002".into())), Some(Val::Bool(true)));
        let dt = "$this <= @2020-01-01T00:00:00Z and $this >= @1990-01-01T00:00:00Z";
        assert_eq!(
            ev(dt, Val::Date("2017-01-01T01:01:01-01:00".into())),
            Some(Val::Bool(true))
        );
        assert_eq!(
            ev("$this.startsWith('123')", s("12345")),
            Some(Val::Bool(true))
        );
        assert_eq!(
            ev("$this.substring(0,3)+'****'", s("12345")),
            Some(s("123****"))
        );
        assert_eq!(
            ev("$this>=0 and $this<20", Val::Num(10.0)),
            Some(Val::Bool(true))
        );
        assert_eq!(
            ev("$this>=0 and $this<20", s("Family")),
            None,
            "an error, not false"
        );
        assert_eq!(ev("true", Val::Num(3.0)), Some(Val::Bool(true)));
        assert_eq!(
            ev("@2000-01-01", Val::Num(3.0)),
            Some(Val::Date("2000-01-01".into()))
        );
        for bad in [
            "$this.first()",
            "$thing",
            "'open",
            "$this >",
            "descendants()",
        ] {
            assert!(Expr::parse(bad).is_none(), "{bad}");
        }
    }
}
