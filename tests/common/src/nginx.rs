//! nginx (Debian's) for the tests and benches, unprivileged on loopback: the configuration of a
//! foreground single-process nginx whose every path is inside one folder, and its process.

use std::path::Path;
use std::process::{Child, Command, Stdio};

/// The whole `nginx.conf` of a server rooted at `root` (pid, logs and temporary files inside
/// it) with `servers` (the `server { ... }` blocks) in its `http` block; `access_log` on or off.
pub fn config(root: &Path, servers: &str, access_log: bool) -> String {
    let d = root.display();
    let access = if access_log {
        format!("{d}/access.log")
    } else {
        "off".to_string()
    };
    format!(
        "daemon off;\nmaster_process off;\nworker_processes 1;\npid {d}/nginx.pid;\nerror_log {d}/error.log info;\nevents {{ worker_connections 1024; }}\nhttp {{\n  access_log {access};\n  client_body_temp_path {d}/tmp/body;\n  proxy_temp_path {d}/tmp/proxy;\n  fastcgi_temp_path {d}/tmp/fastcgi;\n  uwsgi_temp_path {d}/tmp/uwsgi;\n  scgi_temp_path {d}/tmp/scgi;\n{servers}}}\n"
    )
}

/// Write `conf` as `root/nginx.conf` (creating `root/tmp`) and start `bin` on it.
pub fn spawn(bin: &Path, root: &Path, conf: &str) -> Child {
    std::fs::create_dir_all(root.join("tmp")).expect("the nginx folder is created");
    std::fs::write(root.join("nginx.conf"), conf).expect("nginx.conf is written");
    Command::new(bin)
        .arg("-p")
        .arg(root)
        .arg("-e")
        .arg(root.join("error.log"))
        .arg("-c")
        .arg(root.join("nginx.conf"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("nginx starts")
}
