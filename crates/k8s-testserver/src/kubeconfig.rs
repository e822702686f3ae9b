//! The kubeconfig a test hands to kube-rs (or kubectl): one cluster with the CA embedded as
//! `certificate-authority-data`, one user with the bearer token, one context made current.

use crate::pki::base64;

/// A YAML double-quoted scalar (JSON string syntax is valid YAML).
fn quoted(text: &str) -> String {
    serde_json::Value::String(text.to_owned()).to_string()
}

pub(crate) fn render(server_url: &str, ca_pem: &str, token: &str, context: &str) -> String {
    let name = quoted(context);
    format!(
        "apiVersion: v1
kind: Config
clusters:
- name: {name}
  cluster:
    server: {server}
    certificate-authority-data: {ca}
users:
- name: {name}
  user:
    token: {token}
contexts:
- name: {name}
  context:
    cluster: {name}
    user: {name}
    namespace: default
current-context: {name}
preferences: {{}}
",
        server = quoted(server_url),
        ca = base64(ca_pem.as_bytes()),
        token = quoted(token),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_the_context_and_embeds_credentials() {
        let text = render("https://127.0.0.1:1234", "PEM", "tok", "test ctx");
        assert!(text.contains("current-context: \"test ctx\"\n"));
        assert!(text.contains("certificate-authority-data: UEVN\n"));
        assert!(text.contains("token: \"tok\"\n"));
        assert!(text.contains("server: \"https://127.0.0.1:1234\"\n"));
    }
}
