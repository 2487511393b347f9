//! Local ports: node `i` owns the block of [`PORTS_PER_NODE`] ports starting at
//! `base_port + PORTS_PER_NODE * i`, one per listener, so two nodes never clash and a port tells
//! which node and which process it belongs to.

use std::net::{Ipv4Addr, TcpListener};

use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// Ports in each node's block: offsets 0 to 5 and 9 used by the node, 6 to 8 kept free (node0's
/// are the local L1's).
pub const PORTS_PER_NODE: u16 = 10;
/// Nodes that may join a network after genesis (`testnet add-validator`) and keep their ports
/// inside the range checked at generation time.
pub const SPARE_NODES: u32 = 4;

/// Every port one node listens on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NodePorts {
    /// CometBFT peer-to-peer.
    pub p2p: u16,
    /// CometBFT RPC (what clients talk to).
    pub rpc: u16,
    /// The ABCI socket `sidechaind` serves and CometBFT connects to.
    pub abci: u16,
    /// CometBFT's Prometheus endpoint.
    pub cometbft_metrics: u16,
    /// `sidechaind`'s Prometheus endpoint.
    pub app_metrics: u16,
    /// Reserved for the node's bridge relayer (its metrics and health endpoint).
    pub relayer: u16,
    /// The bridge relayer's mesh listener (libp2p), offset 9 of the block (offsets 6 to 8 of
    /// node0's block are the local L1's: `testnet` puts geth there). 0 in a manifest written
    /// before the mesh existed: that node's relayer then runs without the mesh.
    #[serde(default)]
    pub mesh: u16,
}

impl NodePorts {
    /// The ports of node `index` in a network starting at `base`.
    pub fn for_node(base: u16, index: usize) -> Result<Self> {
        let start = u32::try_from(index)
            .ok()
            .and_then(|i| i.checked_mul(u32::from(PORTS_PER_NODE)))
            .and_then(|off| off.checked_add(u32::from(base)))
            .filter(|s| s + u32::from(PORTS_PER_NODE) <= 65_535)
            .ok_or_else(|| {
                Error::Input(format!(
                    "node {index} does not fit below port 65535 with base port {base}"
                ))
            })?;
        let p = |off: u32| u16::try_from(start + off).unwrap_or(u16::MAX);
        Ok(NodePorts {
            p2p: p(0),
            rpc: p(1),
            abci: p(2),
            cometbft_metrics: p(3),
            app_metrics: p(4),
            relayer: p(5),
            mesh: p(9),
        })
    }

    /// Each port with what it is for.
    pub fn labelled(&self) -> [(&'static str, u16); 7] {
        [
            ("p2p", self.p2p),
            ("rpc", self.rpc),
            ("abci", self.abci),
            ("cometbft metrics", self.cometbft_metrics),
            ("app metrics", self.app_metrics),
            ("relayer", self.relayer),
            ("relayer mesh", self.mesh),
        ]
    }
}

/// Whether a local TCP port can be listened on right now.
pub fn is_free(port: u16) -> bool {
    TcpListener::bind((Ipv4Addr::LOCALHOST, port)).is_ok()
}

/// Fails with [`Error::PortInUse`] on the first port of `nodes` another program holds.
pub fn ensure_free<'a>(nodes: impl IntoIterator<Item = (&'a str, &'a NodePorts)>) -> Result<()> {
    for (node, ports) in nodes {
        for (purpose, port) in ports.labelled() {
            // 0: not assigned (a manifest from before the mesh)
            if port != 0 && !is_free(port) {
                return Err(Error::PortInUse {
                    port,
                    node: node.to_string(),
                    purpose,
                });
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nodes_get_disjoint_blocks() {
        let a = NodePorts::for_node(30_000, 0).unwrap();
        let b = NodePorts::for_node(30_000, 1).unwrap();
        assert_eq!(a.p2p, 30_000);
        assert_eq!(b.p2p, 30_010);
        let mut all: Vec<u16> = a
            .labelled()
            .iter()
            .chain(b.labelled().iter())
            .map(|(_, p)| *p)
            .collect();
        all.sort_unstable();
        all.dedup();
        assert_eq!(all.len(), 14);
        assert!(NodePorts::for_node(65_530, 1).is_err());
    }

    #[test]
    fn a_held_port_is_reported_with_node_and_purpose() {
        let held = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
        let port = held.local_addr().unwrap().port();
        let mut ports = NodePorts::for_node(40_000, 0).unwrap();
        ports.rpc = port;
        let e = ensure_free([("node0", &ports)]).unwrap_err();
        assert!(
            matches!(e, Error::PortInUse { port: p, purpose: "rpc", .. } if p == port),
            "{e}"
        );
        assert!(e.to_string().contains(&port.to_string()));
    }
}
