//! Network namespaces for the kernel set-ups: loopback in a private namespace, and a veth pair
//! between two namespaces. Each namespace is a guard that deletes it when dropped (on success,
//! failure, or after Ctrl-C); namespaces left by a benchmark that was killed are removed at the
//! next start (their names carry the dead process's id).

use crate::child::run;

const PREFIX: &str = "bench-";

/// A network namespace this benchmark created; deleted on drop.
#[derive(Debug)]
pub struct Netns {
    pub name: String,
}

impl Netns {
    /// Creates namespace `bench-KIND-PID` with its loopback up.
    pub fn create(kind: &str) -> Result<Netns, String> {
        let name = format!("{PREFIX}{kind}-{}", std::process::id());
        let _ = run(&["ip", "netns", "del", &name]);
        run(&["ip", "netns", "add", &name])?;
        let ns = Netns { name };
        ns.ip(&["link", "set", "lo", "up"])?;
        Ok(ns)
    }

    /// `ip -n NAME ARGS...`
    pub fn ip(&self, args: &[&str]) -> Result<String, String> {
        let mut v = vec!["ip", "-n", &self.name];
        v.extend_from_slice(args);
        run(&v)
    }

    /// Runs a command inside the namespace.
    pub fn exec(&self, args: &[&str]) -> Result<String, String> {
        let mut v = vec!["ip", "netns", "exec", &self.name];
        v.extend_from_slice(args);
        run(&v)
    }

    /// The argv prefix that runs a command inside the namespace.
    pub fn prefix(&self) -> Vec<String> {
        ["ip", "netns", "exec", &self.name]
            .iter()
            .map(|s| s.to_string())
            .collect()
    }

    /// Sets a sysctl inside the namespace.
    pub fn sysctl(&self, key: &str, value: &str) -> Result<(), String> {
        self.exec(&["sysctl", "-qw", &format!("{key}={value}")])
            .map(|_| ())
    }

    /// Reads a sysctl inside the namespace.
    pub fn sysctl_get(&self, key: &str) -> Option<String> {
        self.exec(&["sysctl", "-n", key])
            .ok()
            .map(|s| s.trim().to_string())
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        if let Err(e) = run(&["ip", "netns", "del", &self.name]) {
            eprintln!("bench: warning: {e}");
        }
    }
}

/// A veth pair between two namespaces (deleted with them).
#[derive(Debug)]
pub struct Veth {
    pub client: Netns,
    pub server: Netns,
    pub client_if: String,
    pub server_if: String,
    pub client_ip: &'static str,
    pub server_ip: &'static str,
    pub mtu: u16,
}

impl Veth {
    /// Two namespaces joined by a veth pair at `mtu`: client 10.211.0.1/24, server
    /// 10.211.0.2/24.
    pub fn create(mtu: u16) -> Result<Veth, String> {
        let client = Netns::create("vc")?;
        let server = Netns::create("vs")?;
        let pid = std::process::id();
        let (ci, si) = (format!("bv{pid}c"), format!("bv{pid}s"));
        run(&[
            "ip",
            "link",
            "add",
            &ci,
            "netns",
            &client.name,
            "type",
            "veth",
            "peer",
            "name",
            &si,
            "netns",
            &server.name,
        ])?;
        let v = Veth {
            client,
            server,
            client_if: ci,
            server_if: si,
            client_ip: "10.211.0.1",
            server_ip: "10.211.0.2",
            mtu,
        };
        let m = mtu.to_string();
        for (ns, ifn, ip) in [
            (&v.client, &v.client_if, v.client_ip),
            (&v.server, &v.server_if, v.server_ip),
        ] {
            ns.ip(&["addr", "add", &format!("{ip}/24"), "dev", ifn])?;
            ns.ip(&["link", "set", ifn, "mtu", &m, "up"])?;
        }
        Ok(v)
    }

    /// The client interface's offload settings that matter for TCP (`ethtool -k`).
    pub fn offloads(&self) -> Vec<(String, String)> {
        let Ok(text) = self.client.exec(&["ethtool", "-k", &self.client_if]) else {
            return Vec::new();
        };
        let want = [
            "tcp-segmentation-offload",
            "generic-segmentation-offload",
            "generic-receive-offload",
            "tx-checksumming",
            "rx-checksumming",
        ];
        text.lines()
            .filter_map(|l| {
                let (k, v) = l.split_once(':')?;
                let k = k.trim();
                want.contains(&k)
                    .then(|| (k.to_string(), v.trim().to_string()))
            })
            .collect()
    }
}

/// Deletes `bench-*-PID` namespaces whose process no longer exists.
pub fn remove_stale() {
    let Ok(list) = run(&["ip", "netns", "list"]) else {
        return;
    };
    for line in list.lines() {
        let Some(name) = line.split_whitespace().next() else {
            continue;
        };
        let Some(rest) = name.strip_prefix(PREFIX) else {
            continue;
        };
        let Some(pid) = rest.rsplit('-').next().and_then(|p| p.parse::<u32>().ok()) else {
            continue;
        };
        if pid != std::process::id()
            && !std::path::Path::new(&format!("/proc/{pid}")).exists()
            && run(&["ip", "netns", "del", name]).is_ok()
        {
            eprintln!("bench: removed stale namespace {name}");
        }
    }
}
