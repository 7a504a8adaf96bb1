//! Names read from the text: the refused CN, the allow-lists, the SANs, the dialed address.

/// The text after `marker` (case-insensitive) up to the first of `stops`, trimmed.
fn after<'a>(text: &'a str, lower: &str, marker: &str, stops: &[char]) -> Option<&'a str> {
    let i = lower.find(marker)? + marker.len();
    let rest = text.get(i..)?;
    let end = rest
        .find(|c: char| stops.contains(&c))
        .unwrap_or(rest.len());
    let v = rest[..end].trim().trim_matches(|c| c == '"' || c == '\'');
    (!v.is_empty()).then_some(v)
}

pub(super) struct Extracted {
    pub details: Vec<String>,
    pub cn: Option<String>,
    pub host: Option<String>,
    /// `host:port` the line names for the dialed server (`target=`, `dial tcp`, a URL).
    pub endpoint: Option<String>,
}

/// The text with JSON/zap string escapes undone, so `[error="... not 10.0.1.31\"..."]` reads as
/// the component meant it: `\\` becomes `\` (repeatedly, for escapes nested by several loggers),
/// then `\"` becomes `"`. Other escapes (`\n`) are kept as they are.
pub fn unescape(text: &str) -> String {
    let mut s = text.to_string();
    while s.contains("\\\\") {
        s = s.replace("\\\\", "\\");
    }
    s.replace("\\\"", "\"")
}

/// The port that follows `host` in the text (`10.0.1.31:20160`, `[::1]:20160`), if any.
fn port_for(text: &str, host: &str) -> Option<String> {
    let needle = if host.contains(':') {
        format!("[{host}]:")
    } else {
        format!("{host}:")
    };
    let mut from = 0;
    while let Some(i) = text.get(from..)?.find(&needle) {
        let start = from + i;
        let end = start + needle.len();
        let before = text[..start].chars().next_back();
        let boundary = !before.is_some_and(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-');
        let digits: String = text[end..]
            .chars()
            .take_while(char::is_ascii_digit)
            .collect();
        if boundary && !digits.is_empty() && digits.len() <= 5 {
            return Some(format!("{}{digits}", &needle));
        }
        from = end;
    }
    None
}

/// `host:port` with a numeric port, as a dialed endpoint (IPv6 in brackets).
fn as_endpoint(v: &str) -> Option<String> {
    let v = v.rsplit('/').next().unwrap_or(v);
    let (host, port) = v.rsplit_once(':')?;
    let ok_port = !port.is_empty() && port.len() <= 5 && port.bytes().all(|b| b.is_ascii_digit());
    let ok_host = !host.is_empty()
        && host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | ':' | '[' | ']'));
    (ok_port && ok_host).then(|| v.to_string())
}

/// The dialed server as the line names it: zap's `target=` (TiDB's and TiCDC's TiKV client),
/// gRPC-Go's `failed to connect to {addr ...}`, Go's `dial tcp addr:`, a `https://` URL.
fn endpoint_field(text: &str, lower: &str) -> Option<String> {
    let fields: [(&str, &[char]); 5] = [
        ("target=", &[' ', ']', '"', ',']),
        ("failed to connect to {", &[' ', '}']),
        ("dial tcp ", &[' ', ',', '"']),
        ("https://", &['/', ' ', '"', ']', ',']),
        ("url=", &[' ', ']', '"', ',']),
    ];
    fields.iter().find_map(|(marker, stops)| {
        let v = after(text, lower, marker, stops)?;
        as_endpoint(v.trim_end_matches(':'))
    })
}

pub(super) fn extract(text: &str, lower: &str) -> Extracted {
    let mut details = Vec::new();
    let mut cn = None;
    let mut host = None;
    if let Some(v) = after(
        text,
        lower,
        "x509_common_name from peer is ",
        &[',', '"', '\n'],
    ) {
        details.push(format!("the refused caller's CN: {v}"));
        cn = Some(v.to_string());
    }
    if let Some(i) = lower.find("cert_allowed_cn: {") {
        let rest = &text[i + "cert_allowed_cn: ".len()..];
        if let Some(end) = rest.find('}') {
            let list = rest[..=end].replace("\\\"", "\"");
            details.push(format!("TiKV's cert-allowed-cn: {list}"));
        }
    }
    if let Some(v) = after(text, lower, "from the client certificate [", &[']']) {
        details.push(format!("the refused caller's CN: {v}"));
        cn = Some(v.to_string());
    }
    if let Some(v) = after(text, lower, "cluster-verify-cn with value: ", &['\n', '"']) {
        details.push(format!("TiDB's cluster-verify-cn: {v}"));
    }
    if let Some(i) = lower.find("certificate is valid for ") {
        let rest = &text[i + "certificate is valid for ".len()..];
        if let Some(j) = rest.find(", not ") {
            let names = &rest[..j];
            let dialed_rest = &rest[j + ", not ".len()..];
            let end = dialed_rest
                .find(|c: char| c.is_whitespace() || matches!(c, '"' | '\'' | ')' | '\\'))
                .unwrap_or(dialed_rest.len());
            let dialed = dialed_rest[..end].trim_end_matches([',', '.', ';']);
            details.push(format!("the certificate's SANs: {names}"));
            details.push(format!("the address the caller dialed: {dialed}"));
            host = Some(dialed.to_string());
        }
    }
    if let Some(v) = after(text, lower, "cannot validate certificate for ", &[' ']) {
        details.push(format!("the address the caller dialed: {v}"));
        host = Some(v.to_string());
    }
    if let Some(v) = after(text, lower, "but wanted to match ", &[' ', '"', '\n']) {
        details.push(format!("the name the caller dialed: {v}"));
        host = Some(v.to_string());
    }
    if let Some(v) = after(text, lower, "certificate not valid for name ", &[';']) {
        details.push(format!("the name the client verified: {v}"));
        host = Some(v.trim_matches('"').to_string());
    }
    let endpoint = match &host {
        Some(h) => port_for(text, h),
        None => None,
    }
    .or_else(|| endpoint_field(text, lower));
    if let Some(e) = &endpoint {
        details.push(format!("the endpoint the line names: {e}"));
    }
    Extracted {
        details,
        cn,
        host,
        endpoint,
    }
}
