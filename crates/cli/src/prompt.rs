//! Questions on a terminal, for choices not given as flags. Callers ask only when standard
//! input is a terminal, so scripts never block on a prompt.

use std::io::{BufRead, IsTerminal, Write};

use zeroize::Zeroizing;

use crate::CliError;

/// Whether questions may be asked.
pub fn interactive() -> bool {
    std::io::stdin().is_terminal()
}

fn read_line(question: &str) -> Result<String, CliError> {
    eprint!("{question} ");
    let _ = std::io::stderr().flush();
    let mut line = String::new();
    let read = std::io::stdin()
        .lock()
        .read_line(&mut line)
        .map_err(|e| CliError::Failure(format!("Could not read the answer: {e}.")))?;
    if read == 0 {
        return Err(CliError::BadInput(
            "No answer was given (end of input).".into(),
        ));
    }
    Ok(line.trim().to_owned())
}

/// A line of text, `default` when left empty.
pub fn text(question: &str, default: Option<&str>) -> Result<String, CliError> {
    loop {
        let shown = default.map_or(String::new(), |d| format!(" [{d}]"));
        let answer = read_line(&format!("{question}{shown}:"))?;
        match (answer.is_empty(), default) {
            (false, _) => return Ok(answer),
            (true, Some(d)) => return Ok(d.to_owned()),
            (true, None) => eprintln!("  An answer is needed."),
        }
    }
}

/// A password, typed without echo on a terminal, else the first line of standard input (for
/// scripts, which pipe it in).
pub fn password(question: &str) -> Result<Zeroizing<String>, CliError> {
    let typed = if interactive() {
        rpassword::prompt_password(format!("{question} ")).map(Zeroizing::new)
    } else {
        let mut line = Zeroizing::new(String::new());
        std::io::stdin().lock().read_line(&mut line).map(|_| line)
    };
    let mut typed =
        typed.map_err(|e| CliError::Failure(format!("Could not read the password: {e}.")))?;
    let trimmed = typed.trim_end_matches(['\r', '\n']).len();
    typed.truncate(trimmed);
    if typed.is_empty() {
        return Err(CliError::BadInput("No password was given.".into()));
    }
    Ok(typed)
}

/// Yes or no, `default` when left empty.
pub fn confirm(question: &str, default: bool) -> Result<bool, CliError> {
    let hint = if default { "[Y/n]" } else { "[y/N]" };
    loop {
        match read_line(&format!("{question} {hint}"))?
            .to_ascii_lowercase()
            .as_str()
        {
            "" => return Ok(default),
            "y" | "yes" => return Ok(true),
            "n" | "no" => return Ok(false),
            _ => eprintln!("  Answer y or n."),
        }
    }
}

/// One of `items` by number (from 1), `default` (an index) when left empty.
pub fn choose(question: &str, items: &[String], default: usize) -> Result<usize, CliError> {
    eprintln!("{question}");
    for (index, item) in items.iter().enumerate() {
        eprintln!("  {}) {item}", index + 1);
    }
    loop {
        let answer = read_line(&format!("Number [{}]:", default + 1))?;
        if answer.is_empty() {
            return Ok(default);
        }
        match answer.parse::<usize>() {
            Ok(n) if (1..=items.len()).contains(&n) => return Ok(n - 1),
            _ => eprintln!("  Enter a number from 1 to {}.", items.len()),
        }
    }
}
