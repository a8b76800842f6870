/* SPDX-License-Identifier: (GPL-2.0 OR MIT) */
/*
 * The one definition of everything the BPF datapath and the kvmbpf loader
 * share: map value layouts, limits and enums. Both sides include this file;
 * nothing here may be declared a second time anywhere else.
 *
 * Layout rules: fixed-width types only, explicit padding, no implicit holes,
 * so that the byte layout is the same for clang -target bpf and for gcc on
 * the host. Any change to a struct below bumps KVB_LAYOUT_VERSION, which the
 * loader writes first into kvb_meta and checks on every open: an old fabric
 * is then detected, never misread. Map names stay the same across layouts.
 */
#ifndef KVB_MAPS_H
#define KVB_MAPS_H

#include <linux/types.h>
#include <linux/bpf.h>	/* struct bpf_timer */

#define KVB_LAYOUT_VERSION 28

/* Pinned map names (bpf/lib/maps.h declares them with the same spelling). */
#define KVB_MAP_NET "kvb_net"
#define KVB_MAP_PORT "kvb_port"
#define KVB_MAP_FDB "kvb_fdb"
#define KVB_MAP_STATS "kvb_stats"
#define KVB_MAP_ADDR "kvb_addr"
#define KVB_MAP_META "kvb_meta"
#define KVB_MAP_MON "kvb_mon"
#define KVB_MAP_CT "kvb_ct"
#define KVB_MAP_FWD "kvb_fwd"
#define KVB_MAP_CTCNT "kvb_ctcnt"
#define KVB_MAP_EVENTS "kvb_events"
#define KVB_MAP_ROUTE "kvb_route"
#define KVB_MAP_NATST "kvb_natst"
#define KVB_MAP_CTSWEEP "kvb_ctsweep"
#define KVB_MAP_NATMAP "kvb_natmap"
#define KVB_MAP_PFX "kvb_pfx"
#define KVB_MAP_STAGES "kvb_stages"
#define KVB_MAP_VNI "kvb_vni"
#define KVB_MAP_VTEP "kvb_vtep"
#define KVB_MAP_ACL "kvb_acl"
#define KVB_MAP_ACLR "kvb_aclr"
#define KVB_MAP_ACLP "kvb_aclp"
#define KVB_MAP_ACLSEL "kvb_aclsel"
#define KVB_MAP_ACLON "kvb_aclon"
#define KVB_MAP_ACLLPM "kvb_acllpm"
#define KVB_MAP_ACLBIT "kvb_aclbit"
#define KVB_MAP_ACLCNT "kvb_aclcnt"
#define KVB_MAP_ACLCT "kvb_aclct"
#define KVB_MAP_ACLCT4 "kvb_aclct4"
#define KVB_MAP_ACLCTN "kvb_aclctn"
#define KVB_MAP_CTPN "kvb_ctpn"
#define KVB_MAP_ACLVC "kvb_aclvc"
#define KVB_MAP_ACLVC4 "kvb_aclvc4"
#define KVB_MAP_ACLFRAG "kvb_aclfrag"
#define KVB_MAP_XDPTX "kvb_xdptx"
#define KVB_MAP_PORTDEV "kvb_portdev"
#define KVB_MAP_CTEV "kvb_ctev"
#define KVB_MAP_ACLEV "kvb_aclev"
#define KVB_MAP_NATFRAG "kvb_natfrag"
#define KVB_MAP_NATHOST "kvb_nathost"
#define KVB_MAP_HOSTIF "kvb_hostif"
#define KVB_MAP_DHCPX "kvb_dhcpx"
#define KVB_MAP_FDBNET "kvb_fdbnet"
#define KVB_MAP_DHCP6R "kvb_dhcp6r"
#define KVB_MAP_DHCPHOST "kvb_dhcphost"

/*
 * tc ingress is an entry program and stages it tail-calls through the
 * kvb_stages PROG_ARRAY, so that each is verified on its own (the 1M
 * instruction budget is per program). The loader fills the slots on every
 * load; a stage re-derives what it needs from the packet and the maps, so
 * an entry and stages of different builds (during an upgrade) still agree.
 */
enum kvb_stage {
	KVB_STAGE_WAN = 0,	/* a WAN device: routed-in, NAT replies, forwards */
	KVB_STAGE_NAT = 1,	/* a guest of a nat network */
	KVB_STAGE_ROUTED = 2,	/* a guest of a routed network */
	KVB_STAGE_SWITCH = 3,	/* L2 switching: bridge/internal, uplink, gateway */
	KVB_STAGE_DHCP = 4,	/* a DHCP server's message: snooping, then on */
	KVB_STAGE_OVERLAY = 5,	/* the fabric's VXLAN device: from other hosts */
	KVB_STAGE_ACL_OUT = 6,	/* a nat or routed network's guest's frame
				 * judged by its port's ACLs (egress), then
				 * on to its stage (a bridge's: in SWITCH) */
	KVB_STAGE_ACL_IN = 7,	/* tc egress of a guest port: the frame
				 * judged by its ingress ACLs */
	KVB_STAGES = 8,		/* slots in kvb_stages (room for more) */
};

/* Limits. The loader prints them in --help; the maps are sized by them. */
#define KVB_MAX_NETS 256	/* network ids 1..255; 0 means "none" */
#define KVB_MAX_PORTS 1024	/* attached devices on one host */
#define KVB_MAX_NET_PORTS 64	/* devices in one network (flood list) */
#define KVB_MAX_FDB 65536	/* MAC table entries, all networks */
#define KVB_NAME_LEN 16		/* network and device names, with NUL */
#define KVB_MAX_ADDRS 131072	/* kvb_addr entries, all ports: two a binding
				 * (the port's and the owner entry) */
#define KVB_MAX_PORT_ADDRS 16	/* configured addresses per port */
#define KVB_MAX_SUBNETS 4	/* IPv4 and IPv6 subnets of one network */
#define KVB_MAX_ROUTES 1024	/* kvb_route entries: subnets, all networks */
/*
 * Router advertisements: BPF's answer to a solicitation and dnsmasq's
 * periodic ones (loader/dhcp.c) carry the same lifetimes, in seconds.
 * dnsmasq advertises its range's lease time as both the valid and the
 * preferred lifetime of a prefix, so the two are equal.
 */
#define KVB_RA_INTERVAL 60
#define KVB_RA_ROUTER_LIFETIME 1800
#define KVB_RA_VALID_LIFETIME 86400
#define KVB_RA_PREFERRED_LIFETIME KVB_RA_VALID_LIFETIME

/*
 * Smallest gso_size a guest's super-frame may carry: Linux's own floor for
 * TCP segments (tcp_min_snd_mss, TCP_MIN_SND_MSS), in both families. A
 * guest choosing less would have the host cut one frame into thousands of
 * tiny packets (65,000 at gso_size 1).
 */
#define KVB_GSO_MIN 48

/*
 * ICMP errors the gateway answers with (time exceeded, too big): at most
 * KVB_ICMP_BURST at once, then KVB_ICMP_RATE a second, per port and CPU.
 */
#define KVB_ICMP_RATE 100
#define KVB_ICMP_BURST 20

#define KVB_FDB_AGE_NS (300ULL * 1000000000ULL) /* learned entry lifetime */
#define KVB_FDB_REFRESH_NS (1000000000ULL)	/* rewrite a hit at most 1/s */
/*
 * Learning (any port's, the overlay's) adds no entry while the MAC table
 * holds KVB_FDB_LEARN_MAX: the last KVB_FDB_RESERVE places are for static
 * entries (`attach ... mac`, `port set mac`, a spoofcheck guest's pin),
 * so that a LAN host sending random source MACs (macof) cannot keep a
 * guest from getting its own. A port has one static entry at most, so
 * KVB_MAX_PORTS of them always fit; the rest is slack for the count,
 * which sees the loader's inserts and deletes only at the next sweep
 * (kvb_ctsweep.fdb_entries) and lets each CPU overshoot by one.
 */
#define KVB_FDB_RESERVE (KVB_MAX_FDB / 16)
#define KVB_FDB_LEARN_MAX (KVB_MAX_FDB - KVB_FDB_RESERVE)
_Static_assert(KVB_FDB_RESERVE >= 2 * KVB_MAX_PORTS,
	       "the MAC table's reserve holds every port's static entry");
/*
 * Learning's places are shared between networks so that no network can
 * take another's: every network id may always learn KVB_FDB_NET_MIN
 * entries (the LAN of a bridge, guests without spoofcheck, the guests of
 * other hosts), and the KVB_FDB_SHARED places left go to whichever
 * network learns more, first come. One LAN sending random source MACs
 * (macof) fills its own places and the shared ones; every other network
 * goes on learning its own. Before, the flood took every place of every
 * network for KVB_FDB_AGE_NS: every reply flooded, everywhere.
 */
#define KVB_FDB_NET_MIN 128
#define KVB_FDB_SHARED (KVB_FDB_LEARN_MAX - (KVB_MAX_NETS - 1) * KVB_FDB_NET_MIN)
_Static_assert(KVB_FDB_SHARED >= KVB_FDB_LEARN_MAX / 4,
	       "one network may learn a quarter of the MAC table at least");

/*
 * skb->mark value the datapath puts on frames it hands to an uplink (to the
 * wire or to the host stack), so that the uplink's own programs let them
 * through instead of switching them a second time. Cleared before the frame
 * leaves the fabric.
 */
#define KVB_MARK_FABRIC 0x6b766200U /* "kvb\0" */

/*
 * skb->mark on a guest's packet that routing sends back into the guest's
 * own network through the host's interface there (the host resolves the
 * neighbour): the gateway port then delivers it as a guest's frame, never
 * to an isolated port. The mark survives the host's neighbour queue and a
 * veth within one namespace (skb_scrub_packet keeps it).
 */
#define KVB_MARK_HAIRPIN 0x6b766201U

/*
 * skb->tc_index on a bridge guest's frame that the fabric hands to the
 * host's stack: KVB_TCI_GUEST with the network's id in the low byte, and
 * KVB_TCI_ISOLATED when the guest's port is isolated. The host may
 * forward the packet back out the uplink, where its ingress device is
 * the uplink (the redirect re-entered the stack there), so nothing but
 * this says it is a guest's; the mark is not used because the host's
 * routing rules and firewall match on it, and this tag passes through
 * both unread.
 */
#define KVB_TCI_GUEST 0x8000U
#define KVB_TCI_ISOLATED 0x4000U
#define KVB_TCI_NET 0x00ffU

enum kvb_net_type {
	KVB_NET_NONE = 0,
	KVB_NET_BRIDGE = 1,
	KVB_NET_NAT = 2,
	KVB_NET_INTERNAL = 3,
	KVB_NET_ROUTED = 4,
	KVB_NET_TYPE_MAX,
};

enum kvb_port_role {
	KVB_PORT_GUEST = 0,	/* a guest's tap (or a veth standing in for it) */
	KVB_PORT_UPLINK = 1,	/* a host NIC joined to a bridge network */
	KVB_PORT_GATEWAY = 2,	/* fabric end of a nat network's host veth */
	KVB_PORT_WAN = 3,	/* host NIC that carries translated flows */
	KVB_PORT_OVERLAY = 4,	/* the fabric's VXLAN device (every overlay
				 * network's, so net_id 0) */
};

enum kvb_port_flags {
	KVB_PORT_F_OWN_CLSACT = 1 << 0,	/* kvmbpf created the clsact qdisc */
	KVB_PORT_F_XDP = 1 << 1,	/* XDP program attached via a pinned link */
	KVB_PORT_F_PROMISC = 1 << 2,	/* kvmbpf turned promiscuous mode on */
	KVB_PORT_F_SPOOFCHECK = 1 << 3,	/* enforce the port's MAC and addresses */
	KVB_PORT_F_ISOLATED = 1 << 4,	/* reaches the uplink only, no other port */
	KVB_PORT_F_MAC_PINNED = 1 << 5,	/* mac[] taken from the first frame */
	KVB_PORT_F_IPV6_OFF = 1 << 6,	/* kvmbpf set disable_ipv6 (it was 0) */
	KVB_PORT_F_SAVI_OFF = 1 << 7,	/* no IPv6 address bound by first claim */
	/* a bridge's uplink that nat networks also translate through (the
	 * host's one NIC): its IPv4 frames to the host's MAC go to the WAN
	 * stage first (NAT's replies, forwards), the rest to the host */
	KVB_PORT_F_NAT_WAN = 1 << 8,
	/* a WAN device without a link-layer header (tun, WireGuard, PPP):
	 * the WAN stage gives its IP packets an Ethernet header first, the
	 * kernel takes it off again on the way out (tc only, never XDP) */
	KVB_PORT_F_L3 = 1 << 9,
	/* attach has begun and not finished: the entry records, before
	 * the device is touched, what attach will change on it (the
	 * flags above), so that an attach killed half-way is put back by
	 * the next command's upkeep (fabric_gc) */
	KVB_PORT_F_ATTACHING = 1 << 10,
};

/* kvb_port.held: families a port is held to even with no address of it */
enum kvb_port_held {
	KVB_HELD_IP4 = 1 << 0,	/* it has had a DHCP lease */
	KVB_HELD_IP6 = 1 << 1,
};

#define KVB_SAVI_MAX 32		/* SAVI bindings per port */
#define KVB_STR_(x) #x
#define KVB_STR(x) KVB_STR_(x)	/* a number's macro, as text */

/*
 * Named drop reasons: X(ENUM_SUFFIX, slot, "cli-name", "what it means"). The
 * slot indexes kvb_stats.drop[] and never changes: a new reason takes the
 * next free slot, a retired one leaves its slot empty. The loader prints the
 * names from the same list.
 */
#define KVB_DROP_REASONS(X)						\
	X(RUNT, 0, "runt", "shorter than an Ethernet header")		\
	X(VLAN, 1, "vlan-tagged", "802.1Q/802.1ad tag from or to a port that is no VLAN trunk (trunks: spoofcheck off, no ACLs, bridge and internal networks; and uplinks)") \
	X(SRC_MAC, 2, "src-mac-invalid", "multicast, broadcast or zero source MAC") \
	X(TRUNC_L3, 3, "l3-malformed", "IPv4/IPv6/ARP header short or invalid") \
	X(MTU, 4, "mtu-exceeded", "larger than the network's MTU")		\
	X(NO_NET, 5, "no-network", "port's network does not exist")	\
	X(REFLECT, 6, "reflect", "destination is the port it came from")	\
	X(L4, 7, "l4-malformed", "TCP/UDP/ICMP header short or invalid")	\
	X(IP_OPTIONS, 8, "ip-options", "IPv4 options other than Router Alert") \
	X(IP6_EXT, 9, "ipv6-ext-header", "IPv6 extension chain too long, short or RH0") \
	X(FRAG, 10, "frag-overlap", "IPv4 fragment overlapping the TCP header") \
	X(SPOOF_MAC, 11, "spoof-mac", "source MAC is not the port's")	\
	X(SPOOF_IP, 12, "spoof-ip", "source IP is not one of the port's")	\
	X(SPOOF_ARP, 13, "spoof-arp", "ARP sender MAC or IP is not the port's, or an address probe (sender 0.0.0.0) for an address another port holds (answered for that port, not forwarded)") \
	X(SPOOF_ND, 14, "spoof-nd", "ND link-layer option or target not the port's") \
	X(SPOOF_DHCP, 15, "spoof-dhcp-server", "guest sent a DHCP server message") \
	X(SPOOF_RA, 16, "spoof-router-msg", "guest sent a router advertisement or redirect") \
	X(ISOLATED, 17, "isolated", "port isolation: guest to guest refused") \
	X(NAT_NO_ROUTE, 18, "nat-no-route", "no route, or not via the WAN device (or a device the fabric hooks)") \
	X(NAT_FULL, 19, "nat-table-full", "connection table full: new flow refused") \
	X(NAT_PORTS, 20, "nat-ports-exhausted", "no free port for this destination") \
	X(NAT_FRAG, 21, "nat-fragment", "IPv4 fragment NAT cannot translate (no first fragment before it, an ICMP error's)") \
	X(NAT_PROTO, 22, "nat-protocol", "protocol NAT does not translate") \
	X(TTL, 23, "ttl-exceeded", "TTL or hop limit ran out at the gateway (ICMP time exceeded sent within the port's rate; none for a later fragment)") \
	X(NOT_PEERED, 24, "not-peered", "destination network is not peered with this one") \
	X(NO_ROUTE, 25, "no-route", "no route to the destination, or not one guests may use") \
	X(TOO_BIG, 26, "too-big", "larger than the next hop's MTU (ICMP sent)") \
	X(ND_OPTS, 27, "nd-options", "ND message with more options than the guard examines (16)") \
	X(LL_VIA_GW, 28, "link-local-via-gateway", "IPv6 link-local packet for another host sent to the gateway's MAC") \
	X(GSO, 29, "gso-invalid", "guest's GSO super-frame with segments below 48 bytes") \
	X(ICMP_RATE, 30, "icmp-rate-limited", "TTL ran out, too big or host unreachable, but no ICMP error sent: over the port's rate") \
	X(DHCP_CHADDR, 31, "dhcp-chaddr", "DHCP client message whose chaddr is not the port's MAC (an Ethernet address, 6 bytes, the rest of the field zero)") \
	X(NAT_TCP_WINDOW, 32, "nat-tcp-window", "TCP RST or FIN from the WAN outside the guest's window") \
	X(NO_STAGE, 33, "no-stage", "datapath stage missing (tail call failed) or not for this port") \
	X(NAT_FILTERED, 34, "nat-filtered", "unsolicited packet to a guest's NAT mapping, refused by the network's nat-filtering") \
	X(NAT_UNSOLICITED, 35, "nat-unsolicited", "forwarded by the host from outside towards a nat guest: no tracked flow, no forward; or a TCP SYN+ACK, RST or FIN+ACK from the WAN (or a guest through the hairpin) to a forward or a guest's mapping with no tracked flow (a segment of no connection there: conntrack's INVALID)") \
	X(SAVI_CONFLICT, 36, "savi-conflict", "IPv6 source (or DAD probe) of an address another port holds") \
	X(SAVI_CAP, 37, "savi-cap", "IPv6 address not bound: the port holds " KVB_STR(KVB_SAVI_MAX) " already (or the table is full)") \
	X(OVL_PEER, 38, "overlay-unknown-peer", "VXLAN frame from a host that is not a vtep of the VNI's network") \
	X(OVL_VNI, 39, "overlay-unknown-vni", "VXLAN frame with a VNI no network of this host has") \
	X(OVL_TOO_BIG, 40, "overlay-too-big", "frame larger than the underlay carries (its MTU less the VXLAN overhead)") \
	X(DHCP6_FOREIGN, 41, "dhcp6-foreign", "DHCPv6 REQUEST/CONFIRM/RENEW/REBIND/RELEASE/DECLINE naming an address another port holds (a DECLINE: was given or leased), or more options than examined") \
	X(ACL_DROP, 42, "acl-drop", "a drop rule of the port's ACLs matched") \
	X(ACL_REJECT, 43, "acl-reject", "a reject rule of the port's ACLs matched (TCP RST or ICMP prohibited sent, within the port's rate)") \
	X(ACL_DEFAULT, 44, "acl-default", "no rule of the port's ACLs matched: the network's default-ingress/-egress (drop or reject)") \
	X(ACL_LOG, 45, "acl-log", "not a drop: a 'log on' rule let a new connection in (an event for monitor, never counted)") \
	X(ACL_FRAG, 46, "acl-fragment", "a later IP fragment of a port with ACLs whose first fragment its ACLs did not let through (refused, or not seen first)") \
	X(ACL_CT_FULL, 47, "acl-ct-full", "a new connection its ACLs let through, refused: the port holds its network's acl-ct-max (65,536 unless set) remembered connections in that direction and none of them was left to evict (only those not established are: ct-evicted), or the table of its family is full: 1,048,576 connections each") \
	X(NAT_PORT_FULL, 48, "nat-port-full", "a new NAT flow of a guest port that holds its network's ct-port-max flows (131,072 unless set), none of them left to evict (only flows not established are: ct-evicted), or that holds half the NAT address's ports and none of those is free for the flow's destination: one guest's flood cannot take the others'") \
	X(NAT_CLASH, 49, "nat-clash", "a new NAT flow of a protocol without ports (GRE, ESP, SCTP, IPIP...), translated by its addresses alone: that remote's traffic of that protocol is another guest's live flow, or the host's own (it received that protocol from the remote within the last 180 s)") \
	X(L2_LINK_LOCAL, 50, "l2-link-local", "a guest's frame to an IEEE 802.1 link-local group (01:80:c2:00:00:00-0f: STP, pause, LACP, 802.1X, LLDP), which a bridge never forwards: it would reach the LAN's switch as the host's port's") \
	X(L2_DISGUISED, 51, "l2-disguised", "a spoofcheck guest's frame that some routers and switches take for another: an LLC frame (802.3, or EtherType 0x8870) with a SNAP header of any OUI, SAP bits or control naming IPv4, ARP, RARP, IPv6 or a VLAN tag by EtherType inside, an LLC frame to or from the IP or ARP SAP (0x06, 0x98), or an old QinQ tag (0x9100, 0x9200, 0x9300), which the identity checks do not judge") \
	X(MAC_TABLE_FULL, 52, "mac-table-full", "a spoofcheck guest's frame whose source MAC the port would take as its own (it has no mac yet): the MAC table (65,536 entries, all networks) has no room for its static entry, so nothing is pinned") \
	X(ND_FRAGMENT, 53, "nd-fragment", "a spoofcheck guest's neighbour discovery message (RS, RA, NS, NA, redirect) in an IPv6 fragment, which RFC 6980 forbids: the options of its later fragments would go unexamined") \
	X(OVL_NOT_TUNNELLED, 54, "overlay-not-tunnelled", "a unicast from the uplink's LAN (then still handed to the host's stack) or from the host through a gateway port to a MAC behind another host: the overlay carries guests' frames only, as frames from it reach guests only (the remote guest answers the LAN and the host through its own host)") \
	X(DHCP6_LEASE_CAP, 55, "dhcp6-lease-cap", "a guest's DHCPv6 message that would make the server create leases (SOLICIT with Rapid Commit, REQUEST, REBIND) while its port holds its 16 DHCPv6 leases or has lately asked for that many (one more every 10 minutes), or with more options than examined: one guest must not fill the server's lease table, shared with DHCPv4") \
	X(DHCP_FRAGMENT, 56, "dhcp-fragment", "a guest's DHCP or DHCPv6 client message in IP fragments or in a GSO super-frame: what the later fragments or segments carry would go unexamined (a lease budget, a chaddr), and no client sends one so") \
	X(NAT_VTEP, 57, "nat-vtep", "while this fabric has an overlay network over IPv4: a guest's UDP to the VXLAN port (4789) through NAT, or a WAN packet from that port that would open a forward's or mapping's flow: translated to this host's address, it would pass on the other hosts as this host's own tunnel traffic and put the guest's frames into any overlay network") \
	X(FWD_OFF, 58, "forwarding-off", "a guest's packet to route or translate out that the host's FIB refused: forwarding is off on the network's host interface (net.ipv4.conf.IF.forwarding, or IPv6's), which the fabric turned on there; a host-wide write of net.ipv4.ip_forward or net.ipv6.conf.all.forwarding sets every interface's, and the host's choice stands: turn it on there again (sysctl), or net del and net add") \
	X(HOST_UNREACH, 59, "host-unreachable", "a nat guest's IPv4 packet to translate out whose next hop has not answered ARP for 2.5 s: answered ICMP host unreachable from the gateway within the port's rate, as the kernel's forwarding answers; one packet every 3 s is still sent, to ask again (routed packets: the kernel answers, uncounted here)") \
	X(ACL_TCP_WINDOW, 60, "acl-tcp-window", "TCP RST or FIN of a connection a port's ACLs let through, outside its receiver's window (a blind forgery: it would have put the connection on the closing timeout)") \
	X(DHCP_FOREIGN, 61, "dhcp-foreign", "a guest's DHCPRELEASE (ciaddr) or DHCPDECLINE (option 50) naming an address another port holds (given, leased or in use): a server that keys leases on the client identifier (RFC 2131; a LAN's) would end that port's lease") \
	X(DHCP_LEASE_CAP, 62, "dhcp-lease-cap", "a guest's DHCPv4 REQUEST (not of its own address: option 50's when given, else ciaddr's) or DISCOVER with Rapid Commit while its port holds its 16 IPv4 leases and static addresses or has lately asked for that many (one more every 10 minutes, as DHCPv6's budget): a LAN's server that keys leases on the client identifier would lease one guest its whole pool") \
	X(DHCP_MALFORMED, 63, "dhcp-malformed", "a guest's DHCPv4 client message that a server may read otherwise than the fabric: option 53 or 50 given twice or with another length than 1 or 4, option overload (52), options that do not end within 96 (pads counted) or run past the message; the lease budget and the foreign-address check must judge what the server reads")

/* Slots in kvb_stats.drop[]: a power of two, room for reasons to come. */
#define KVB_DROP_SLOTS 64

#define KVB_DROP_ENUM(name, slot, str, help) KVB_DROP_##name = slot,
enum kvb_drop {
	KVB_DROP_REASONS(KVB_DROP_ENUM)
	KVB_DROP_MAX = KVB_DROP_SLOTS,	/* loops run over every slot */
};
#undef KVB_DROP_ENUM

#define KVB_DROP_CHECK(name, slot, str, help)				\
	_Static_assert(slot < KVB_DROP_SLOTS, "grow KVB_DROP_SLOTS: " str);
KVB_DROP_REASONS(KVB_DROP_CHECK)
#undef KVB_DROP_CHECK

/*
 * Security groups (ACLs). An ACL is a named list of rules (kvb_acl, the
 * rules in kvb_aclr: the loader's, the datapath never reads them). A
 * guest port's effective ACLs (its own, else its network's) are compiled
 * by the loader into a "set": for each direction every rule gets a bit,
 * drop and reject rules first (so that they win over allow), each in its
 * ACLs' order; four LPM lookups (source and destination address, source
 * and destination port, the protocol in the ports' keys) each give the
 * rules that match that field, and the lowest bit set in all four is the
 * rule that decides. A new set is built beside the old one and a port
 * switches to it with one write of its kvb_aclp entry.
 */
#define KVB_MAX_ACLS 64		/* ACLs, ids 1..64 */
#define KVB_ACL_MAX_RULES 1024	/* rules in one ACL */
#define KVB_ACL_PER_PORT 8	/* ACLs a port (or network) names */
#define KVB_ACL_SET_RULES 1024	/* rules of one direction in a set */
#define KVB_ACL_WORDS (KVB_ACL_SET_RULES / 64)
#define KVB_ACL_MAX_CIDRS 8	/* src (dst) CIDRs of one rule */
#define KVB_ACL_MAX_LPM 262144	/* kvb_acllpm entries, all sets */
#define KVB_ACL_MAX_CT 1048576	/* connections a table holds, all ports:
				 * kvb_aclct4 (IPv4) and kvb_aclct (IPv6) */
#define KVB_CT_PORT_FLOWS 131072	/* NAT flows a guest port holds, unless
					 * its network's ct-port-max says */
#define KVB_ACL_CT_PORT 65536	/* kvb_aclct4 and kvb_aclct connections a
				 * port's sides hold,
				 * unless its network's acl-ct-max says */
#define KVB_ACL_MAX_VC 32768	/* kvb_aclvc4 and kvb_aclvc verdicts, all
				 * sets (LRU, each) */
#define KVB_ACL_MAX_FRAG 16384	/* kvb_aclfrag datagrams, all ports (LRU) */
#define KVB_ACL_FRAG_S 30	/* a first fragment vouches this long */
#define KVB_NAT_MAX_FRAG 16384	/* kvb_natfrag datagrams, both ways (LRU) */
#define KVB_NATFRAG_S 30	/* a first fragment's ports serve this long */
#define KVB_NAT_MAX_HOST 4096	/* kvb_nathost remotes, all WAN devices (LRU) */
#define KVB_NATHOST_S 180	/* the host's traffic holds its remote this long */
#define KVB_ACL_CTRS (KVB_MAX_ACLS * KVB_ACL_MAX_RULES + 1)
/* rejects are answered within a budget of each port's own, as large as
 * the gateway's for ICMP errors (KVB_ICMP_RATE, KVB_ICMP_BURST) */

enum kvb_acl_dir {
	KVB_ACL_IN = 0,		/* ingress: towards the guest */
	KVB_ACL_OUT = 1,	/* egress: from the guest */
};

enum kvb_acl_action {
	KVB_ACL_REJECT = 0,	/* also a network's default, unset */
	KVB_ACL_ALLOW = 1,
	KVB_ACL_DROP = 2,
};

enum kvb_acl_rule_flags {
	KVB_ACLR_LOG = 1 << 0,		/* hits go to monitor */
	KVB_ACLR_SPORT = 1 << 1,	/* sport_lo..sport_hi given */
	KVB_ACLR_DPORT = 1 << 2,
	KVB_ACLR_ICMP_TYPE = 1 << 3,	/* icmp_type given */
	KVB_ACLR_ICMP_CODE = 1 << 4,
};

struct kvb_acl_cidr {
	__u8 family;		/* 4 or 6 */
	__u8 prefixlen;
	__u8 pad[2];
	__u8 addr[16];
};

/* kvb_aclr: HASH, key {acl id, index}: the rules, as `acl rule add` took
 * them (the loader's only) */
struct kvb_acl_rule_key {
	__u32 acl;
	__u32 index;
};

struct kvb_acl_rule {
	__u8 dir;		/* enum kvb_acl_dir */
	__u8 action;		/* enum kvb_acl_action */
	__u8 proto;		/* IPPROTO_*, 0: any */
	__u8 flags;		/* enum kvb_acl_rule_flags */
	__u8 nsrc, ndst;	/* 0: any */
	__u8 icmp_type, icmp_code;
	__u16 sport_lo, sport_hi;
	__u16 dport_lo, dport_hi;
	__u32 ctr;		/* its slot in kvb_aclcnt */
	__u32 pad;
	struct kvb_acl_cidr src[KVB_ACL_MAX_CIDRS];
	struct kvb_acl_cidr dst[KVB_ACL_MAX_CIDRS];
};

/* kvb_acl: HASH, key __u32 id (1..KVB_MAX_ACLS) */
struct kvb_acl {
	char name[KVB_NAME_LEN];
	__u32 id;
	__u32 nrules;
	__u64 ctr_used[KVB_ACL_MAX_RULES / 64];	/* counter slots taken */
};

/*
 * kvb_aclp: ARRAY of 2 * (KVB_MAX_PORTS + 1), key __u32: a guest port's
 * ACLs at its slot (kvb_port.slot), in two copies, slot * 2 and
 * slot * 2 + 1, of which kvb_aclsel (ARRAY of KVB_MAX_PORTS + 1, struct
 * kvb_aclsel) at the slot names the one in force. The loader writes the
 * other copy whole, then flips the selector (never twice within
 * KVB_ACLSEL_HOLD_NS: a judgment that read the selector before a flip
 * may still read the copy that left force): a judgment reads one copy as it
 * was written, never a new set with the old one's dims or defaults (an
 * array's update is a copy in place that a reader on another CPU can see
 * half done). Indexes, not hash lookups, on the path of every judged
 * frame. ifindex says whose entry it is: another ifindex (a slot given
 * to another port since, or none: 0) is no entry. set 0: no ACL
 * applies, the port behaves as if there were no ACLs.
 */
struct kvb_aclsel {
	__u32 sel;		/* 0 or 1: the copy of kvb_aclp in force */
	__u32 pad;
	__u64 flipped_ns;	/* the loader's CLOCK_MONOTONIC at the flip */
};

#define KVB_ACLSEL_HOLD_NS 20000000ULL

/*
 * kvb_aclon: ARRAY of one, key 0: whether any port's ACL entry in force
 * has a set. The datapath reads it once per frame before any of the ACL
 * steps, which a port without ACLs otherwise pays on every frame (its
 * entry's two lookups in the entry, the switch stage and tc egress:
 * about 20 ns a switched frame). The loader turns it on before a set
 * comes into force and off after the last one left (loader/acl.c:
 * aclp_write), so a frame that reads it off is one no set judged yet.
 */
struct kvb_aclon {
	__u32 on;
	__u32 pad;
};

enum kvb_acl_port_flags {
	KVB_ACLP_OWN = 1 << 0,	/* acl[] is the port's own (else none) */
};

struct kvb_acl_port {
	__u32 set;		/* compiled set in use, 0: none */
	__u16 nrules[2];	/* rules of the set by direction */
	__u8 def[2];		/* by direction: enum kvb_acl_action */
	__u8 flags;		/* enum kvb_acl_port_flags */
	__u8 nacl;
	__u16 acl[KVB_ACL_PER_PORT];	/* the port's own ACL ids */
	/*
	 * By direction: the fields (1 << enum kvb_acl_dim) that some rule
	 * of the set constrains. A field no rule constrains matches every
	 * rule whatever its value: its LPM lookup is skipped.
	 */
	__u8 dims[2];
	__u8 pad[2];
	__u32 ct_max;		/* its network's acl-ct-max, 0: KVB_ACL_CT_PORT */
	__u32 ifindex;		/* the port whose entry it is, 0: none */
};

/*
 * kvb_acllpm: LPM_TRIE, a set's rules by field. Key data: the set (big
 * endian), the field (dir * 4 + enum kvb_acl_dim), then for addresses
 * the family (4, 6) and the address (IPv4 in its first 4 bytes), for
 * ports the protocol and the port (big endian; ICMP: type as sport, code
 * as dport). prefixlen counts from the set on: 40 (set and field) is the
 * entry of the rules that take any value, always present.
 */
enum kvb_acl_dim {	/* the source port field holds the protocol only for
			 * rules with a source port (or ICMP type): the
			 * destination port field checks every rule's */
	KVB_ACL_D_SRC = 0,
	KVB_ACL_D_DST = 1,
	KVB_ACL_D_SPORT = 2,
	KVB_ACL_D_DPORT = 3,
};

struct kvb_acl_lpm_key {
	__u32 prefixlen;
	__u8 set[4];
	__u8 dim;
	__u8 fam;		/* addresses: family; ports: protocol */
	__u8 addr[16];		/* ports: the port in the first 2 bytes */
	__u8 pad[2];
};

struct kvb_acl_bits {
	__u64 w[KVB_ACL_WORDS];
};

/* kvb_aclbit: HASH, key {set, dir, bit}: what a set's rule does */
struct kvb_acl_bit_key {
	__u32 set;
	__u16 bit;
	__u8 dir;
	__u8 pad;
};

/*
 * kvb_aclbit also holds, per set, the loader's signature of it (bit
 * KVB_ACL_SIG_BIT, dir KVB_ACL_SIG_DIR: never a rule's; action and flags
 * are the set's dims by direction, acl and index the high and low words
 * of a hash of the rules it was compiled from), so that a set whose
 * rules did not change is kept, not compiled again (loader/acl.c).
 */
#define KVB_ACL_SIG_BIT 0xffff
#define KVB_ACL_SIG_DIR 2

struct kvb_acl_bit {
	__u8 action;		/* enum kvb_acl_action */
	__u8 flags;		/* enum kvb_acl_rule_flags (LOG) */
	__u16 pad;
	__u32 ctr;		/* kvb_aclcnt slot */
	__u32 acl;		/* for monitor: ACL id and rule index */
	__u32 index;
};

/* kvb_aclcnt: PERCPU_ARRAY, a rule's hits by its ctr slot (0: none) */
struct kvb_acl_cnt {
	__u64 packets;
	__u64 bytes;
};

/*
 * kvb_aclvc: LRU_HASH, what a set's rules say of a new connection's
 * fields: the verdicts classification found, so that the next connection
 * with the same fields (another source port, most often) costs one
 * lookup. Only the fields some rule of the set constrains are in the key
 * (kvb_acl_port.dims), the others zero. Set ids are never given twice
 * (kvb_meta.acl_set_last), so an entry of a set gone is never read again
 * and ages out.
 */
struct kvb_aclvc_key {
	__u32 set;
	__u8 dir;		/* enum kvb_acl_dir */
	__u8 family;
	__u8 proto;
	__u8 pad;
	__u16 sport, dport;	/* host order; ICMP: type, code */
	__u8 saddr[16];
	__u8 daddr[16];
};

/*
 * kvb_aclvc4: the same for IPv4 fields, keyed in 20 bytes instead of 44
 * (a new connection looks it up twice, sender's and receiver's, and
 * hashing the long key was most of that).
 */
struct kvb_aclvc4_key {
	__u32 set;
	__u8 dir;		/* enum kvb_acl_dir */
	__u8 proto;
	__u16 sport, dport;	/* host order; ICMP: type, code */
	__u16 pad;
	__u8 saddr[4] __attribute__((aligned(4)));
	__u8 daddr[4];
};

struct kvb_aclvc {
	__u8 rule;		/* a rule matched (else: the port's default) */
	__u8 action;		/* the rule's: enum kvb_acl_action */
	__u8 log;		/* the rule logs (KVB_ACLR_LOG) */
	__u8 pad;
	__u32 ctr;		/* the rule's kvb_aclcnt slot */
};

/*
 * The check word of words 32-bit words at w (FNV-1a over the words):
 * kvb_aclvc4_val.check, kvb_aclvc_val.check, kvb_rtnh4.check,
 * kvb_aclfrag.check, kvb_natfrag.check, kvb_nathost.check.
 */
typedef __u32 __attribute__((may_alias)) kvb_word_t;	/* any field */

static inline __u32 kvb_check_words(const kvb_word_t *w, const int words)
{
	__u32 h = 2166136261U;

	for (int i = 0; i < words; i++)
		h = (h ^ w[i]) * 16777619U;
	return h;
}

/* Do the words 32-bit words at a and b agree (a key against the copy an
 * entry carries)? Without an early exit: a fixed count of loads. */
static inline int kvb_words_equal(const void *a, const void *b,
				  const int words)
{
	const kvb_word_t *x = a, *y = b;
	__u32 d = 0;

	for (int i = 0; i < words; i++)
		d |= x[i] ^ y[i];
	return !d;
}

/*
 * The values of kvb_aclvc4 and kvb_aclvc: the verdict, and its key again.
 * An LRU hash hands an evicted entry to another CPU's insert at once, so
 * a reader that found it may copy another key's verdict: it copies the
 * value and takes the verdict only when the key it carries is its own.
 */
struct kvb_aclvc4_val {
	struct kvb_aclvc4_key key;
	struct kvb_aclvc vc;
	__u32 check;		/* kvb_aclvc4_check: a torn copy is none */
};

struct kvb_aclvc_val {
	struct kvb_aclvc_key key;
	struct kvb_aclvc vc;
	__u32 check;		/* kvb_aclvc6_check */
};

static inline __u32 kvb_aclvc4_check(const struct kvb_aclvc4_val *v)
{
	return kvb_check_words((const kvb_word_t *)v,
			       __builtin_offsetof(struct kvb_aclvc4_val, check) / 4);
}

static inline __u32 kvb_aclvc6_check(const struct kvb_aclvc_val *v)
{
	return kvb_check_words((const kvb_word_t *)v,
			       __builtin_offsetof(struct kvb_aclvc_val, check) / 4);
}

/*
 * kvb_aclfrag: LRU_HASH, the fragmented datagrams whose first fragment a
 * port's ACLs let through: their later fragments (no L4 header to judge)
 * pass that port's ACLs for KVB_ACL_FRAG_S after it; any other later
 * fragment is refused (acl-fragment), also one that comes before its
 * first.
 */
struct kvb_aclfrag_key {
	__u32 ifindex;		/* the judging port */
	__u32 id;		/* IPv4 identification, IPv6 fragment id */
	__u8 family;
	__u8 proto;
	__u8 pad[2];
	__u8 saddr[16];
	__u8 daddr[16];
};

/*
 * The value carries its key again and a check word, as the verdict
 * cache's does (kvb_aclvc4_val): an LRU hash hands an evicted entry to
 * another CPU's insert at once, so a reader could take another
 * datagram's note, or a copy torn by a writer, for its own; a later
 * fragment passes only on a copy whose key is its own and whose check
 * word holds.
 */
struct kvb_aclfrag {
	struct kvb_aclfrag_key key;
	/* the rule counter (kvb_aclcnt) its first fragment was counted
	 * on, its later ones too (0: none; a note of an older build) */
	__u32 ctr;
	__u64 until_ns;		/* datapath clock */
	__u32 check;		/* kvb_aclfrag_check */
	__u32 pad2;
};

static inline __u32 kvb_aclfrag_check(const struct kvb_aclfrag *v)
{
	return kvb_check_words((const kvb_word_t *)v,
			       __builtin_offsetof(struct kvb_aclfrag, check) / 4);
}

/*
 * kvb_natfrag: LRU_HASH, fragmented IPv4 datagrams of translated flows. A
 * first fragment (offset 0, more fragments) carries the ports and is
 * translated as any packet of its flow; it leaves here, under its
 * addresses, protocol and IPv4 identification as it arrived (before the
 * translation), its ports, so that the later fragments of its datagram
 * (no L4 header) find the same flow and are translated too, addresses
 * only, for KVB_NATFRAG_S after it. A later fragment with no first before
 * it: from a guest, nat-fragment; from the WAN, the host's (as before).
 */
struct kvb_natfrag_key {
	__be32 saddr, daddr;	/* as the fragment arrives */
	__be16 id;		/* IPv4 identification */
	__u8 proto;
	__u8 dir;		/* 0: from a guest, 1: from the WAN */
};

/* Key again and check word: as kvb_aclfrag's (a torn or another
 * datagram's copy would give a fragment another flow's ports). */
struct kvb_natfrag {
	struct kvb_natfrag_key key;
	__be16 sport, dport;	/* the flow key's (kvb_ct_key): ICMP echo: id, 0 */
	__u64 until_ns;		/* datapath clock */
	__u32 check;		/* kvb_natfrag_check */
	/*
	 * The datagram's IP payload bytes seen so far (its fragments'),
	 * and its length once its last fragment (MF clear) came, 0 before:
	 * the note ends when all of it passed, so that fragments reordered
	 * behind the last still find it (t93), and a later datagram of the
	 * same id never takes an ended one's ports (t102). Written by the
	 * fragments, outside the check word.
	 */
	__u32 seen;
	__u32 total;
	__u32 pad;
};

static inline __u32 kvb_natfrag_check(const struct kvb_natfrag *v)
{
	return kvb_check_words((const kvb_word_t *)v,
			       __builtin_offsetof(struct kvb_natfrag, check) / 4);
}

/*
 * kvb_nathost: LRU_HASH, the host's own traffic of the protocols NAT
 * translates by their addresses alone (natreply.h: nat_generic). Such a
 * flow has no port to tell it apart: a guest's GRE or ESP flow with a
 * remote takes every packet of that protocol the remote sends to the
 * host's address. So a packet of such a protocol that a WAN device
 * receives for no flow (the host's: its own tunnel, its own IPsec) notes
 * its remote, the host's address and the protocol here, at most once a
 * second; for KVB_NATHOST_S after, no guest may open a flow of that
 * protocol with that remote (nat-clash), and the host's tunnel keeps its
 * packets. The host's own ICMP queries alike, by their identifier: an
 * echo reply for no flow (the host's ping) notes its remote and id, which
 * no guest's new echo flow to that remote takes (nat_port_take passes
 * over it) for KVB_NATHOST_S after, so that the host's ping keeps its
 * replies. (A guest's flow made before the host's ping began still holds
 * its id: the kernel would remap the host's, which BPF cannot.)
 */
struct kvb_nathost_key {
	__be32 raddr;		/* the remote */
	__be32 laddr;		/* the host's address it sent to */
	__u8 proto;
	__u8 pad;
	__be16 id;		/* ICMP queries: the identifier; else 0 */
};

/* Key again and check word: as kvb_aclfrag's (another remote's note
 * would give the host's ping replies to a guest, or a guest's to the
 * host). */
struct kvb_nathost {
	struct kvb_nathost_key key;
	__u32 pad;
	__u64 last_ns;		/* datapath clock: the last packet noted */
	__u32 check;		/* kvb_nathost_check */
	__u32 pad2;
};

static inline __u32 kvb_nathost_check(const struct kvb_nathost *v)
{
	return kvb_check_words((const kvb_word_t *)v,
			       __builtin_offsetof(struct kvb_nathost, check) / 4);
}

/*
 * TCP: what one end of a connection sent and advertised, host order; the
 * other end's RST and FIN are judged against it (conntrack's
 * tcp_in_window). A NAT flow's entry holds its sender's (kvb_ct.td), an
 * ACL connection both ends' (kvb_aclct.td).
 */
struct kvb_td {
	__u32 end;		/* highest seq + len sent */
	__u32 maxend;		/* highest ack + window advertised */
	__u32 maxack;		/* highest ack sent */
	__u32 maxwin;		/* largest window advertised, scaled */
	__u8 wscale;		/* window scale its SYN offered */
	__u8 flags;		/* enum kvb_td_flags */
	__u16 pad;
};

/*
 * kvb_aclct: HASH (not preallocated), the connections that ports' ACLs let
 * through (IPv6; IPv4 in kvb_aclct4, below, under a short form of the
 * key), one
 * entry a connection of a network: its two ends (address, port) in a
 * fixed order (side 0 the lower), so that both directions, and both ports
 * of a connection between two local guests, find it with one lookup. Each
 * side holds the judgment of the port whose guest is that end (ifindex 0:
 * not judged there). A packet of a known connection passes either way
 * without a rule (the reply of one the guest opened, or the guest's
 * answers to one allowed in). A side judged under another set than its
 * port's current one is judged again (its first direction, its first
 * packet's fields): forgotten if the new rules forbid it. ICMP: only a
 * query is a connection (conntrack's rule), keyed on its kind and its
 * identifier (both ports); its reply type answers it the other way, and
 * nothing else of ICMP does (another query type, a request sent back).
 */
struct kvb_aclct_key {
	__u32 net_id;
	__u8 family;
	__u8 proto;
	__be16 port[2];		/* by side; ICMP: the identifier, both */
	__u16 kind;		/* ICMP: enum kvb_aclct_icmp; else 0 */
	__u8 addr[2][16];	/* by side; IPv4 in the first 4 bytes */
};

/*
 * kvb_aclct4: the IPv4 connections (kvb_aclct holds the IPv6 ones), keyed
 * in 16 bytes instead of 44. Every packet through a port with ACLs looks
 * its connection up, and hashing the key was the biggest part of that
 * lookup. A kvb_aclct_key of family 4 and its kvb_aclct4_key name the
 * same connection (kvb_aclct4_key_of, kvb_aclct_key_of4); the datapath
 * and the loader reason in kvb_aclct_key and store IPv4 in this form.
 */
struct kvb_aclct4_key {
	__u8 net_id;		/* 1..255 (KVB_MAX_NETS) */
	__u8 proto;
	__u16 kind;		/* as kvb_aclct_key.kind */
	__be16 port[2];		/* by side */
	__u8 addr[2][4] __attribute__((aligned(4)));	/* by side; aligned: copied
							 * as words, not bytes */
};

static inline void kvb_aclct4_key_of(struct kvb_aclct4_key *d,
				     const struct kvb_aclct_key *k)
{
	d->net_id = (__u8)k->net_id;
	d->proto = k->proto;
	d->kind = k->kind;
	d->port[0] = k->port[0];
	d->port[1] = k->port[1];
	__builtin_memcpy(d->addr[0], k->addr[0], 4);
	__builtin_memcpy(d->addr[1], k->addr[1], 4);
}

static inline void kvb_aclct_key_of4(struct kvb_aclct_key *d,
				     const struct kvb_aclct4_key *k)
{
	__builtin_memset(d, 0, sizeof(*d));
	d->net_id = k->net_id;
	d->family = 4;
	d->proto = k->proto;
	d->kind = k->kind;
	d->port[0] = k->port[0];
	d->port[1] = k->port[1];
	__builtin_memcpy(d->addr[0], k->addr[0], 4);
	__builtin_memcpy(d->addr[1], k->addr[1], 4);
}

/*
 * kvb_aclct_key.kind: an ICMP or ICMPv6 query's kind, shared by its
 * request and its reply type (echo 8/0, ICMPv6 128/129; timestamp 13/14,
 * information 15/16, address mask 17/18). Any other ICMP type (an error,
 * a router advertisement, a redirect) is no connection: each packet is
 * judged by the rules.
 */
enum kvb_aclct_icmp {
	KVB_ACLCT_ICMP_ECHO = 1,
	KVB_ACLCT_ICMP_TSTAMP = 2,
	KVB_ACLCT_ICMP_INFO = 3,
	KVB_ACLCT_ICMP_MASK = 4,
};

struct kvb_aclct_side {
	__u32 ifindex;		/* the port judged this end, 0: none */
	__u32 set;		/* the set that let it in */
	__u32 ctr;		/* the allowing rule's kvb_aclcnt slot */
	__u8 origin;		/* enum kvb_acl_dir of its first packet */
	__u8 otype, ocode;	/* ICMP: that packet's type and code */
	/*
	 * enum kvb_aclct_refused: set changed and its rules forbid this
	 * connection now, which is cut both ways while the entry lives
	 * (its packets refresh it); 0 otherwise
	 */
	__u8 refused;
	__u16 slot;		/* the port's slot: its count in kvb_aclctn */
	__u16 pad2;
};

enum kvb_aclct_refused {
	KVB_ACLCT_REFUSED = 1 << 0,	/* forbidden by the rules of set */
	KVB_ACLCT_REFUSED_REJECT = 1 << 1,	/* by a reject (else drop) */
	KVB_ACLCT_REFUSED_DEFAULT = 1 << 2,	/* by the default (no rule) */
};

struct kvb_aclct {
	struct kvb_aclct_side side[2];
	__u64 last_ns;		/* written at most once a second */
	__u8 state;		/* enum kvb_ct_state */
	__u8 tcp;		/* TCP: enum kvb_aclct_tcp */
	__u16 pad;
	__u32 ans_end;		/* TCP: the answer's SYN-ACK sequence + 1 */
	/*
	 * TCP: what the end of each side sent and advertised (by key side),
	 * so that a RST or FIN is judged against its receiver's window, as
	 * NAT's flows judge them (conntrack.h): a blind RST or FIN neither
	 * puts a live connection on the closing timeout nor passes when it
	 * is outside the window (acl-tcp-window). Written by the packets of
	 * the connection, once a packet, as NAT's.
	 */
	struct kvb_td td[2];
};

/*
 * kvb_aclct.tcp: how far a TCP connection's opening went. It is
 * established by its opener's ACK of the answer's SYN-ACK (exactly
 * ans_end), as conntrack's connections are assured, not by the answer:
 * SYNs from forged sources, answered by the guest, stay on the opening
 * timeout.
 */
enum kvb_aclct_tcp {
	KVB_ACLCT_SYN = 1 << 0,		/* opened by a SYN */
	KVB_ACLCT_ANSWERED = 1 << 1,	/* the SYN-ACK seen: ans_end set */
};

/*
 * kvb_aclctn: ARRAY of KVB_MAX_PORTS + 1 by port slot, the kvb_aclct4
 * and kvb_aclct sides that hold the port's judgment (zeroed when the slot is given). An
 * established connection is never evicted: an idle one goes after its
 * timeout (the expiry sweep, or the next packet that finds it), and a
 * port's new connection beyond KVB_ACL_CT_PORT evicts one of the port's
 * own that is not established (early eviction, below) or is refused
 * (acl-ct-full), as beyond a full table, so that no guest's flood of
 * connections can push out another guest's.
 */
struct kvb_aclctn {
	__u64 n[2];	/* by who opened them: enum kvb_acl_dir */
};

/*
 * Early eviction, as conntrack's early_drop: a port whose share is full
 * makes room for a new connection by evicting one of its connections
 * that is not established (kvb_ct: a NAT flow still new or closing;
 * kvb_aclct: a side of that direction). Otherwise a flood of SYNs from
 * forged sources (each answered by the guest, none completing its
 * handshake) would refuse every new connection of that port for TCP's
 * 120 s opening timeout once its share was full; a NAT port's share
 * holds the guest's own flows too. An established connection is never
 * evicted.
 *
 * kvb_ctev (struct kvb_ct_key, original keys) and kvb_aclev (struct
 * kvb_aclct_key): ARRAY of KVB_EVICT_POOL, the candidates. A new
 * connection made while its port holds more than half its share writes
 * its key at a random place of its port's region of the pool
 * (evict_region: as many places as half the share, up to the whole
 * pool, from a place that depends on the slot and direction); the
 * connection made by evicting one takes its place. Eviction tries
 * KVB_EVICT_TRIES random places of that region and takes the first
 * that names a live connection of the same port (and direction) that is
 * not established. A stale key (gone, established, another port's) is
 * passed over. A nat network at its ct-max has a region of its own
 * (EVICT_NET), written by the flows made while it holds more than half
 * its ct-max, where a port with no candidate of its own finds any
 * port's. The pool is a sample: under a flood, a connection that
 * is still opening survives about as many new connections as its
 * region has places before it can be chosen.
 */
#define KVB_EVICT_POOL 65536	/* a power of two */
#define KVB_EVICT_TRIES 8

/* skb->mark of an ACL's reject answer, so that the port's own ACLs in
 * the other direction let it pass (cleared as it is recognised) */
#define KVB_MARK_ACL 0x6b766202U

struct kvb_subnet {
	__u8 family;		/* 4 or 6 */
	__u8 prefixlen;
	__u16 pad;
	__u8 addr[16];		/* network address; IPv4 in the first 4 bytes */
	__u8 gw[16];		/* the gateway's address in it */
};

/*
 * Overlay: an underlay address of another host (a VXLAN tunnel endpoint),
 * and the kvb_vtep key that says which VNI it may send (the trust check
 * of every frame from the tunnel). kvb_vni: HASH, __u32 VNI -> __u32
 * network id; kvb_vtep: HASH, struct kvb_vtep_key -> __u32 network id.
 */
#define KVB_MAX_VTEPS 64	/* other hosts of one overlay network */
#define KVB_MAX_VNI 0xffffff	/* 24 bits */
#define KVB_VXLAN_PORT 4789
#define KVB_OVL_OVERHEAD4 50	/* inner Ethernet, VXLAN, UDP, IPv4 */
#define KVB_OVL_OVERHEAD6 70	/* the same over IPv6 */

struct kvb_vtep_addr {
	__u8 family;		/* 4 or 6 */
	__u8 pad[3];
	__u8 addr[16];		/* IPv4 in the first 4 bytes, rest zero */
};

struct kvb_vtep_key {
	__u32 vni;
	struct kvb_vtep_addr a;
};

/* kvb_net: HASH, key __u32 network id. */
struct kvb_net {
	char name[KVB_NAME_LEN];
	__u32 id;
	__u32 type;		/* enum kvb_net_type */
	__u32 mtu;		/* L3 MTU; frames above mtu + 14 are dropped */
	__u32 uplink;		/* ifindex of the uplink port, 0 = none */
	__u8 uplink_mac[6];	/* the host's own address on the uplink */
	__u16 nports;		/* valid entries in ports[] */
	__u32 ports[KVB_MAX_NET_PORTS]; /* member ifindexes, uplink included */
	/* nat networks: the uplink is the gateway port, uplink_mac the MAC
	 * of the host interface that holds gw_ip */
	__be32 subnet;		/* network address */
	__be32 netmask;
	__be32 gw_ip;		/* the gateway, on the host interface */
	__be32 nat_ip;		/* the WAN device's address: translated source */
	__u32 gw_host;		/* ifindex of that host interface */
	__u32 wan;		/* ifindex of the WAN device */
	__u32 flags;		/* enum kvb_net_flags */
	__u32 ct_max;		/* flows allowed at once, 0: the table's size */
	__u32 ct_timeout[4];	/* seconds by enum kvb_ct_timeout, 0: default */
	/*
	 * nat and routed networks: their subnets (a nat network's IPv4 one
	 * is subnets[0] too) with the gateway address of each, which the
	 * host interface gw_host holds; and the networks packets may be
	 * routed to (`net peer`), a bitmap of network ids.
	 */
	__u32 nsubnets;
	struct kvb_subnet subnets[KVB_MAX_SUBNETS];
	__u64 peers[KVB_MAX_NETS / 64];
	__u32 via_nat;		/* routed: a peered nat network carries its
				 * IPv4 to the outside (translated), 0: routed */
	/* nat: the host's ephemeral ports (ip_local_port_range at net
	 * add; 0: the kernel's default), which flows never take: NAT's
	 * ports are 1024-65535 without them */
	__u16 host_port_lo;
	__u16 host_port_hi;
	__u32 nat_filter;	/* nat: enum kvb_nat_filter */
	/*
	 * Overlay (a network that spans hosts): its VXLAN network
	 * identifier (0: none), the fabric's VXLAN device, the largest L3
	 * packet the underlay carries to every vtep (its MTU less the
	 * VXLAN overhead), and the other hosts' underlay addresses, to
	 * which floods are replicated.
	 */
	__u32 vni;
	__u32 ovl_ifindex;
	__u32 ovl_mtu;
	__u32 nvteps;
	struct kvb_vtep_addr vteps[KVB_MAX_VTEPS];
	/*
	 * ACLs of the ports that name none themselves (`net set NAME acl`),
	 * by id, and what traffic no rule matches gets on a port with
	 * ACLs, by direction (enum kvb_acl_dir; enum kvb_acl_action, 0:
	 * reject).
	 */
	__u16 acl[KVB_ACL_PER_PORT];
	__u8 nacl;
	__u8 acl_default[2];
	__u8 pad_acl;
	/* connections one port's ACLs remember (`acl-ct-max`), 0:
	 * KVB_ACL_CT_PORT */
	__u32 acl_ct_max;
	/* nat: flows one guest port holds at once (`ct-port-max`), 0:
	 * KVB_CT_PORT_FLOWS */
	__u32 ct_port_max;
	__u32 pad_ct;
	/*
	 * nat and routed: the `wan` device by name (wan holds its ifindex
	 * now). A device made again under that name (a PPP reconnect,
	 * wg-quick down and up) is hooked again and becomes wan. bridge:
	 * its `uplink` by name, hooked again the same way (the loader's
	 * bridge_uplinks_follow).
	 */
	char wan_name[KVB_NAME_LEN];
};

/*
 * What a nat network lets in to a guest's mapping (RFC 4787 filtering)
 * without a flow for that remote: nothing (address and port dependent,
 * the default), what comes from an address the guest sent to (address
 * dependent), or anything (endpoint independent).
 */
enum kvb_nat_filter {
	KVB_NAT_FILTER_ADDR_PORT = 0,
	KVB_NAT_FILTER_ADDR = 1,
	KVB_NAT_FILTER_ENDPOINT = 2,
};

enum kvb_ct_timeout {
	KVB_CT_T_TCP_EST = 0,	/* TCP, established */
	KVB_CT_T_TCP = 1,	/* TCP, opening or closing */
	KVB_CT_T_UDP = 2,
	KVB_CT_T_ICMP = 3,
};

enum kvb_net_flags {
	KVB_NET_F_DHCP = 1 << 0,	/* kvmbpf runs a DHCP server (dnsmasq):
					 * DHCPv4, and stateful DHCPv6 with the
					 * M flag in the RA for IPv6 subnets */
	KVB_NET_F_FORCE = 1 << 1,	/* 'force': overlaps the host's routes */
	KVB_NET_F_IP6 = 1 << 2,		/* has an IPv6 subnet (nat, routed) */
	KVB_NET_F_WAN_XDP = 1 << 3,	/* nat, `wan-xdp on`: XDP on its wan
					 * device translates its established
					 * flows' replies (bpf/lib/natxdp.h) */
	KVB_NET_F_UPLINK_XDP = 1 << 4,	/* bridge whose uplink device went
					 * while it had XDP: a device made
					 * again under its name gets it too */
	KVB_NET_F_MTU_DERIVED = 1 << 5,	/* mtu not given: taken from what
					 * carries the network (its uplink's,
					 * the underlay's), so `save` leaves
					 * it out and `load` takes it again */
	KVB_NET_F_CREATING = 1 << 6,	/* `net add` has not finished: set
					 * before the entry is first written,
					 * cleared when the network is whole;
					 * the upkeep (gc) removes a network
					 * whose net add was killed */
};

/* kvb_port: HASH, key __u32 ifindex. */
struct kvb_port {
	char name[KVB_NAME_LEN];	/* device name at attach time */
	__u32 ifindex;
	__u32 net_id;
	__u32 role;		/* enum kvb_port_role */
	__u32 flags;		/* enum kvb_port_flags */
	__u8 mac[6];		/* the guest's MAC (static FDB entry), or zero */
	__u16 slot;		/* its counters' index in kvb_stats; 0: none */
	__u32 n_ip4;		/* IPv4 addresses bound (kvb_addr): static, DHCP */
	__u32 n_ip6;		/* IPv6 addresses bound: static, DHCPv6, SAVI */
	__u32 n_savi;		/* of those, bound by first claim (KVB_SAVI_MAX) */
	__u32 held;		/* enum kvb_port_held, set by the datapath */
	/*
	 * One of the port's configured IPv4 addresses (a static binding in
	 * kvb_addr, given with `ip`), 0: none. The guard takes a source
	 * equal to it as bound without the lookup: static bindings are the
	 * loader's alone (never taken, moved or aged), and the loader sets
	 * it from them (addr_count) and clears it before it removes them.
	 */
	__be32 ip4;
	__u32 pad;
	/*
	 * A WAN port: its device's own MAC when it was hooked (zero for a
	 * layer-3 device and every other role). XDP on the WAN device (no
	 * skb, no pkt_type) translates only frames sent to it: a frame for
	 * another station is the host's to drop, as tc leaves it (t80). A
	 * MAC changed since is a stale value: XDP then passes every frame
	 * to tc, which judges by pkt_type, so it is slower, never wrong.
	 */
	__u8 dev_mac[6];
	__u16 pad2;
};

/* kvb_port.mac and .slot share one aligned 64-bit word (the datapath
 * claims a MAC with one compare-and-swap of it): the MAC's bytes */
#define KVB_PORT_MAC_MASK 0x0000ffffffffffffULL
_Static_assert(__builtin_offsetof(struct kvb_port, mac) % 8 == 0 &&
		       __builtin_offsetof(struct kvb_port, slot) ==
			       __builtin_offsetof(struct kvb_port, mac) + 6,
	       "kvb_port: mac and slot must be one aligned word");

/*
 * Is port p a way out of the nat networks: a WAN port, or a bridge's
 * uplink they translate through too (KVB_PORT_F_NAT_WAN, the host's one
 * NIC)? One answer for the datapath and the loader.
 */
static inline int kvb_port_nat_wan(const struct kvb_port *p)
{
	return p->role == KVB_PORT_WAN ||
	       (p->role == KVB_PORT_UPLINK && (p->flags & KVB_PORT_F_NAT_WAN));
}

/*
 * kvb_addr: HASH, address bindings: which port may send from which
 * address, by what right and until when. One mechanism for every source
 * of an address: configured (`ip`), leased (DHCP snooping, DHCPv6) and
 * first claim (FCFS SAVI, RFC 6620). A binding is two entries:
 *
 * - the port's entry, key {ifindex, family, net_id 0, addr}: how the
 *   address was bound (flags), when (learned_ns) and until when
 *   (expires_ns); the guard looks only here to let a source through;
 * - the owner entry, key {ifindex 0, family, net_id, addr}: which port of
 *   the network holds it (owner); flags says only whether it is static.
 *   One lookup answers "does another port hold this address".
 *
 * A binding lives while expires_ns is 0 (never: static) or not past
 * (datapath clock). A dead one is refused by the guard at once and removed
 * by the sweep (bind.h, run by the kvb_ctsweep timer). Rules:
 *
 * - static bindings are the loader's: never taken, moved or aged;
 * - a DHCP ACK (DHCPv6 REPLY) that answers a request of the client's port
 *   (kvb_dhcpx) binds yiaddr to that port until the lease ends (0:
 *   infinite lease), within KVB_DHCP_LEASE_MAX; it moves another port's SAVI binding
 *   (the server's word), and another port's lease only once that has
 *   ended or that port's device is gone (a server keyed on client
 *   identifiers answers whoever copies another guest's), never a static
 *   one; a RELEASE or DECLINE from the port ends it;
 * - SAVI (IPv6) binds an address on its DAD probe or first use as a source
 *   when no live binding of another port holds it, for KVB_SAVI_LIFE_S
 *   after its last use (use refreshes expires_ns); at most KVB_SAVI_MAX per
 *   port (n_savi), and past KVB_SAVI_MAX - KVB_SAVI_ROOM on a guest port
 *   the sweep ends its bindings idle for KVB_SAVI_IDLE_S;
 * - a port that gets a MAC (attach or `port set` with mac; a pin: at the
 *   binding's next use) ends other ports' SAVI bindings of the EUI-64
 *   addresses of that MAC, which are its own;
 * - detach removes every binding of the port (both entries).
 *
 * Counts in struct kvb_port: n_ip4/n_ip6 count the port's entries of each
 * family (dead ones too, until swept), n_savi its SAVI ones. With
 * spoofcheck on, IPv4 is held to the port's live bindings when it has any
 * entry (n_ip4) or has had a lease (held); IPv6 with SAVI on is always
 * held to link-local, live bindings and what it may claim now.
 */
struct kvb_addr_key {
	__u32 ifindex;		/* 0: the owner entry of addr in net_id */
	__u8 family;		/* 4 or 6 */
	__u8 net_id;		/* owner entries only, else 0 */
	__u8 pad[2];
	__u8 addr[16];		/* IPv4 in the first 4 bytes, rest zero */
};

enum kvb_addr_flags {
	KVB_ADDR_F_STATIC = 1 << 0,	/* given with 'ip ADDR' */
	KVB_ADDR_F_DHCP = 1 << 1,	/* leased: DHCP ACK (DHCPv6 REPLY) */
	KVB_ADDR_F_SAVI = 1 << 2,	/* first claim: DAD probe or first use */
};

struct kvb_addr {
	__u32 flags;		/* enum kvb_addr_flags: exactly one source */
	__u32 owner;		/* the port holding the address */
	__u64 learned_ns;	/* datapath clock when bound (SAVI: or last
				 * claimed by the port's DAD probe); 0 static */
	__u64 expires_ns;	/* datapath clock when it ends; 0 never */
	/* a DHCP lease's port entry: the server that leased it (the ACK's
	 * server identifier, option 54), 0: not known. The client renews
	 * by unicast to it: a port's ACLs let that through (acl.h) */
	__be32 server;
	__u32 pad;
};

/* SAVI: a binding lives a day past its last use (temporary addresses are
 * preferred for a day and stay valid for a week while used); use
 * refreshes it at most every KVB_SAVI_REFRESH_S. */
#define KVB_SAVI_LIFE_S 86400
#define KVB_SAVI_REFRESH_S 60
/* KVB_SAVI_MAX, SAVI bindings per port: before the drop reasons, whose
 * savi-cap text says it */
/*
 * Room for a guest's new addresses: while a guest port holds more than
 * KVB_SAVI_MAX - KVB_SAVI_ROOM SAVI bindings (near its cap), the sweep
 * ends those of them unused as a source for KVB_SAVI_IDLE_S (an hour: an
 * address in use is never one; a shorter time would free a guest's
 * receive-only address for another to take) until it holds no more. Each boot of a
 * guest makes new temporary addresses (RFC 8981), one a prefix, while the
 * old ones live a day: without this its newest, preferred addresses met
 * the cap. The room is a boot's worth on a network of KVB_MAX_SUBNETS
 * IPv6 prefixes, and the cap KVB_SAVI_MAX is 32 (with 16 and a room of
 * 1, a guest on 3 prefixes that booted 5 times in an hour had no IPv6
 * until the hour was over; now it boots 9 times in the hour). Only near the
 * cap: an address so ended is free for another guest to claim, so a
 * guest under it keeps all of its own.
 */
#define KVB_SAVI_ROOM KVB_MAX_SUBNETS
#define KVB_SAVI_IDLE_S 3600
/*
 * Another port's DAD probe for a learned address passes (its holder
 * answers, the claimant sees the duplicate) once the binding is older
 * than this: before, the holder may itself still be probing, and a probe
 * would make it fail its own duplicate detection (DAD denial).
 */
#define KVB_SAVI_DAD_S 5

/*
 * DHCP snooping binds only what answers the port's own client: a server's
 * ACK (DHCPv6 REPLY) binds when its transaction id is one the port's
 * client sent lately (DHCPv4: DISCOVER, REQUEST; DHCPv6: SOLICIT,
 * REQUEST, CONFIRM, RENEW, REBIND), within KVB_DHCP_XID_S of that
 * message (a retransmission, which keeps the id, sets the time anew), as
 * a switch's DHCP snooping or libvirt's nwfilter does. A lease nobody
 * asked for (a LAN host's forged ACK of a 1 s lease, a REPLY naming
 * another port's address) binds nothing. A port holds at most
 * KVB_DHCP_LEASE_MAX leased or static addresses of a family (IPv4:
 * n_ip4; IPv6: n_ip6 less n_savi), so no port fills kvb_addr with
 * leases; past it an ACK or REPLY binds nothing new (renewals of what the
 * port holds still do).
 *
 * kvb_dhcpx: ARRAY of KVB_MAX_PORTS + 1 by port slot (kvb_port.slot): the
 * last KVB_DHCP_XIDS transactions of each family the port's client
 * opened. A record names its port (ifindex): a slot given to another port
 * since holds none of its.
 */
#define KVB_DHCP_XIDS 4		/* transactions remembered per family */
#define KVB_DHCP_XID_S 30	/* an answer's window after the request */
#define KVB_DHCP_LEASE_MAX 16	/* leased + static addresses per family */

struct kvb_dhcp_xid {
	__u64 sent_ns;		/* datapath clock of its latest message */
	__u32 xid;		/* DHCPv4 xid as sent; DHCPv6: the 3-byte
				 * transaction id, first byte most significant */
	__u32 ifindex;		/* the port whose client sent it; 0: none */
};

/*
 * A port's DHCPv6 lease budget (dhcp.h: dhcp6_lease_charge). Every guest
 * message that can make the server create leases (SOLICIT with Rapid
 * Commit, REQUEST, REBIND: dnsmasq creates a lease on a REBIND it has no
 * binding for, under the client's DUID, even for an address another of
 * its leases has) is charged, when it is sent, with the most leases it can
 * create (its weight: each IA's addresses, or one per IPv6 subnet for an
 * IA that names none). It passes only if max(the port's leases, level) +
 * weight <= KVB_DHCP_LEASE_MAX; the level then becomes that sum, and
 * leaks one every KVB_DHCP6_LEAK_S. The charge is taken when the request
 * passes, never refunded by a reply: requests without replies, leases
 * the lease script could not bind (no MAC, another DUID's lease of an
 * address the port holds) all use it up. So the server creates at most
 * KVB_DHCP_LEASE_MAX + T / KVB_DHCP6_LEAK_S + 1 leases for one port in
 * any lease time T (a day: 16 + 144 + 1), whatever the guest sends (the
 * loader sizes dnsmasq's --dhcp-lease-max by it); a RENEW,
 * which creates none (dnsmasq: NoBinding), is never charged, so a
 * client's renewals of what it holds go on at its cap.
 */
#define KVB_DHCP6_LEAK_S 600	/* the budget's level leaks one per 10 min */
/* the most leases the server holds for one port (a lease lives a day) */
#define KVB_DHCP6_LEASES_PER_PORT					\
	(KVB_DHCP_LEASE_MAX + KVB_RA_VALID_LIFETIME / KVB_DHCP6_LEAK_S + 1)

struct kvb_dhcp6_budget {
	__u64 at_ns;		/* datapath clock the level was leaked to */
	__u32 level;		/* leases asked for, less what leaked since */
	__u32 ifindex;		/* the port it is of; 0: none (a slot given
				 * to another port starts empty) */
	__u32 refunds_seen;	/* kvb_dhcp6r's count when last taken off */
	__u32 level4;		/* DHCPv4's level (REQUESTs not of the port's
				 * own address, DISCOVERs with Rapid Commit:
				 * dhcp.h dhcp4_lease_weight), leaked alike
				 * from at_ns; was padding (layout 28 kept) */
};

/*
 * kvb_dhcp6r: ARRAY of KVB_MAX_PORTS + 1 by port slot: the leases the
 * server dropped for the port (dnsmasq's lease script's "del"), counted
 * up by the loader only; the datapath takes the new ones off the port's
 * budget level at its next charge (kvb_dhcp6_budget.refunds_seen). A map
 * of its own: the loader writes a whole value, and kvb_dhcpx's the
 * datapath writes in place.
 */

/*
 * kvb_dhcphost: HASH of a network's DHCP host reservations (`kvmbpf
 * dhcp-host add NET ip ADDR [mac MAC]`, libvirt's <host>), the loader's
 * alone: dnsmasq leases a reserved address to the reservation's MAC
 * only (IPv4), or to no client at all (no MAC, and every IPv6 one), for
 * as long as the reservation stands, whether a port holds the address
 * or not. A port may be given a reserved address (`ip`) only with the
 * reservation's MAC. They go with their network (`net del`).
 */
#define KVB_MAX_DHCPHOSTS 4096
/* of them with a MAC, whose entries (KVB_FDB_F_RESERVED) share the MAC
 * table's reserve for static entries with the ports' */
#define KVB_MAX_DHCPHOST_MACS (KVB_FDB_RESERVE - 2 * KVB_MAX_PORTS)
_Static_assert(KVB_MAX_DHCPHOST_MACS >= 1024,
	       "room in the MAC table's reserve for reserved MACs");

struct kvb_dhcphost_key {
	__u32 net_id;
	__u8 family;		/* 4 or 6 */
	__u8 pad[3];
	__u8 addr[16];		/* IPv4 in the first 4 bytes, rest zero */
};

struct kvb_dhcphost {
	__u8 mac[6];		/* the client's, when has_mac */
	__u8 has_mac;
	__u8 pad;
};

struct kvb_dhcpx {
	struct kvb_dhcp_xid x[2][KVB_DHCP_XIDS];	/* [0] DHCPv4, [1] DHCPv6 */
	struct kvb_dhcp6_budget b6;	/* the port's DHCPv6 lease budget */
};

/*
 * kvb_pfx: LPM_TRIE, the IPv6 prefixes of bridge networks, learned from
 * the router advertisements that arrive on their uplink (a SAVI claim
 * must lie in one; nat and routed networks have their subnets). Key data:
 * the network id (big endian), then the prefix; prefixlen counts both
 * (32 + the prefix's length). An entry of prefixlen 32 (the network id
 * alone) marks a network that has learned prefixes: a claim outside them
 * is then refused. A network without it (no RA seen yet, internal
 * networks) takes any prefix, first come, first served.
 */
#define KVB_MAX_PFX 1024
#define KVB_RA_MAX_OPTS 8	/* RA options examined for prefixes */

struct kvb_pfx_key {
	__u32 prefixlen;
	__be32 net_id;
	__u8 addr[16];
};

struct kvb_pfx {
	__u64 expires_ns;	/* the valid lifetime ends; 0 never (the mark) */
	__u32 prefixlen;	/* the key's: which prefix an LPM lookup found */
	__u32 pad;
};

/* RFC 4862 5.5.3 e: an advertisement cuts a prefix's valid lifetime to
 * no less than two hours; prefixes shorter than /16 are no LAN's */
#define KVB_PFX_TWO_HOURS_S 7200
#define KVB_PFX_MIN_LEN 16

/* kvb_fdb: HASH, key struct kvb_fdb_key. */
struct kvb_fdb_key {
	__u32 net_id;
	__u8 mac[6];
	__u16 pad;
};

enum kvb_fdb_flags {
	KVB_FDB_F_STATIC = 1 << 0,	/* configured, never ages, never moves */
	KVB_FDB_F_REMOTE = 1 << 1,	/* behind another host: ifindex is the
					 * VXLAN device, remote its address */
	/* with STATIC, ifindex 0: a DHCP host reservation's MAC (dhcp-host
	 * add ... mac), which no port may pin from its frames; a port
	 * attached with that `mac` takes the entry over */
	KVB_FDB_F_RESERVED = 1 << 2,
};

struct kvb_fdb_entry {
	__u32 ifindex;
	__u32 flags;		/* enum kvb_fdb_flags */
	__u64 seen_ns;		/* datapath clock (CLOCK_MONOTONIC, coarse) of the last refresh */
	struct kvb_vtep_addr remote;	/* KVB_FDB_F_REMOTE: the host */
	__u32 pad;
};

/*
 * A learned entry not refreshed for KVB_FDB_AGE_NS is gone. One answer for
 * the datapath and `fdb show`: an entry refreshed after the reader took
 * its clock (another CPU, or the datapath during a walk of the table; the
 * datapath's clock is coarse) has seen_ns > now and is fresh, not aged by
 * an unsigned difference that wrapped.
 */
static inline int kvb_fdb_entry_aged(const struct kvb_fdb_entry *e, __u64 now)
{
	__u64 seen = e->seen_ns;	/* read once: another CPU writes it */

	/* signed: a time set before boot (a span past the uptime) is past */
	return !(e->flags & KVB_FDB_F_STATIC) && (__s64)(now - seen) > 0 &&
	       now - seen > KVB_FDB_AGE_NS;
}

/*
 * kvb_xdptx: DEVMAP_HASH, key and value __u32 ifindex: the guest ports
 * XDP's fast path may redirect into (bpf/lib/xdpfwd.h), written by the
 * loader only: a tun/tap guest port joins at attach and leaves first at
 * detach. A tap takes XDP frames whatever runs on it; a veth does not
 * (loader/port.c: xdp_target).
 */

/*
 * kvb_portdev: DEVMAP_HASH, key and value __u32 ifindex: every port's
 * device (all roles), written by the loader only: at attach, removed at
 * detach. The kernel removes a device's entry itself when the device goes
 * (NETDEV_UNREGISTER, before its ifindex can be given again), so an entry
 * is there exactly while the device that was attached still exists: tc
 * asks it before sending anywhere a map names (MAC table, flood members,
 * address bindings, NAT flows), and a port whose tap went without detach
 * (QEMU exited) gets nothing, nor does a new device that took its
 * ifindex, until gc forgets the port. Never a redirect target.
 */

/*
 * kvb_stats: PERCPU_ARRAY of KVB_MAX_PORTS + 1, key __u32: a port's
 * counters at its slot (kvb_port.slot, 1..KVB_MAX_PORTS, given by the
 * loader, zeroed when given); slot 0 is no port's. An index, not a hash
 * lookup, on the path of every frame (rx, tx).
 */
struct kvb_stats {
	__u64 rx_packets;
	__u64 rx_bytes;
	__u64 tx_packets;
	__u64 tx_bytes;
	__u64 learn_fail;	/* MAC not learned: FDB full (frame still flooded) */
	__u64 drop[KVB_DROP_SLOTS];	/* by enum kvb_drop */
	__u64 xdp_fwd;		/* of rx_packets, forwarded by XDP alone
				 * (the fast path: they never reached tc) */
	__u64 ct_evicted;	/* connections of the port not established,
				 * evicted early for new ones (its own at a
				 * full share, any port's in a network at
				 * ct-max: KVB_EVICT_POOL) */
};

/* kvb_meta: ARRAY of one, key 0: which build's programs are attached. */
struct kvb_meta {
	__u32 layout;		/* KVB_LAYOUT_VERSION; first, in every layout */
	__u32 acl_set_last;	/* the last ACL set id given (never reused) */
	__u64 build_hash;	/* FNV-1a of the BPF objects the loader embeds */
	__u64 loaded_at;	/* CLOCK_REALTIME seconds of the last (re)load */
	char version[16];	/* kvmbpf version that loaded them */
	__u64 netns;		/* SO_NETNS_COOKIE of the network namespace
				 * the fabric was made in: its ports'
				 * ifindexes are that namespace's devices,
				 * so a command from another (the pins seen
				 * through a shared bpffs) is refused */
	__u64 netns_ino;	/* and its inode (/proc/PID/ns/net): while
				 * a process or /run/netns holds it, that
				 * namespace lives (reset force) */
};

/*
 * kvb_mon: ARRAY of one, key 0. A monitor sets until_ns a little ahead
 * and keeps pushing it; while the datapath clock < until_ns, every drop is
 * also reported into kvb_events (a ring buffer). With nobody listening
 * a drop costs one lookup and a clock read more, and nothing else does.
 */
struct kvb_mon {
	__u64 until_ns;
};

#define KVB_EVENT_BYTES 96	/* leading frame bytes carried (96/74/62/54/42/34/14) */
#define KVB_EVENTS_SIZE (256 * 1024)

struct kvb_event {
	__u64 ts_ns;
	__u32 ifindex;
	__u32 reason;		/* enum kvb_drop */
	__u32 len;		/* whole frame */
	__u16 caplen;		/* bytes valid in data[] */
	__u8 hook;		/* 0 tc, 1 XDP */
	__u8 pad;
	__u8 data[KVB_EVENT_BYTES];
};

/*
 * kvb_ct: HASH, the NAT connection table. Each flow has two entries:
 * dir 0 keyed by the guest's tuple (guest -> remote), holding the
 * translated source; dir 1 keyed by the reply tuple (remote -> nat_ip),
 * holding the guest's address. ICMP echo uses the identifier as port.
 */
#define KVB_MAX_CT 2097152	/* entries: two per flow, 1,048,576 flows;
				 * allocated as flows come (no prealloc) */
/*
 * NAT ports are never the host's: 1024-65535 without the host's
 * ephemeral range (by default the kernel's, 32768-60999), at least
 * KVB_NAT_PORTS_LEAST of them.
 */
#define KVB_NAT_PORT_FIRST 1024
#define KVB_HOST_PORT_LO 32768
#define KVB_HOST_PORT_HI 60999
#define KVB_NAT_PORTS_LEAST 1024
#define KVB_NAT_PORT_TRIES 16	/* ports probed for a new flow */

struct kvb_ct_key {
	__be32 saddr;
	__be32 daddr;
	__be16 sport;
	__be16 dport;
	__u8 proto;
	__u8 dir;		/* 0 original, 1 reply */
	__u16 pad;
};

enum kvb_ct_state {
	KVB_CT_NEW = 0,		/* seen one way only */
	KVB_CT_ESTABLISHED = 1,	/* seen both ways (UDP: a stream, below) */
	KVB_CT_CLOSING = 2,	/* TCP FIN or RST seen */
	/* UDP answered, but no packet yet KVB_CT_STREAM_NS after it began:
	 * a single exchange (a DNS query and its answer) keeps the
	 * unreplied timeout, as conntrack's UDP entries until they are a
	 * stream; the first packet that late makes it established */
	KVB_CT_ANSWERED = 3,
};

/* conntrack's UDP stream: still alive this long after it began */
#define KVB_CT_STREAM_NS 2000000000ULL

struct kvb_ct {
	__be32 addr;		/* dir 0: nat_ip; dir 1: guest address */
	__be16 port;		/* dir 0: nat port; dir 1: guest port */
	__u8 state;		/* enum kvb_ct_state */
	__u8 from_wan;		/* opened by the WAN (a forward), not the guest */
	__u32 net_id;
	__u32 guest_ifindex;	/* the guest's port */
	__u8 guest_mac[6];
	__u16 slot;		/* dir 0: the slot of the port whose share
				 * holds the flow (kvb_ctpn), 0: none */
	/* datapath clock (CLOCK_MONOTONIC, coarse) of the last packet,
	 * within KVB_CT_REFRESH_NS (kvb_ct_clock). No packet count: the entry
	 * is shared by the CPUs of the flow, and is written by none of its
	 * packets but once in that time. */
	__u64 last_ns;
	/*
	 * hairpin flows (a guest to its own network's WAN address and a
	 * forwarded port) rewrite both ends: addr/port is the new source,
	 * addr2/port2 the new destination, guest_* where it goes.
	 */
	__be32 addr2;
	__be16 port2;
	__u8 hairpin;
	__u8 mapped;		/* dir 0: enum kvb_ct_mapped */
	/*
	 * TCP: what this entry's sender (dir 0 the guest, dir 1 the
	 * remote) sent and advertised; the other direction's RST and FIN
	 * are judged against it (conntrack's tcp_in_window).
	 */
	struct kvb_td td;
	/*
	 * dir 0 of a translated flow: where the FIB last sent it (nat_snat),
	 * so that its packets skip the FIB and the neighbour lookup: the
	 * egress device, its MAC and the next hop's, the largest IPv4 length
	 * the FIB accepted (the route's MTU), all valid while nh_gen equals
	 * kvb_natst.nh_gen and the flow's last_ns is under
	 * KVB_NH_REVALIDATE_NS old. nh_ifindex 0: none.
	 */
	__u16 nh_len;
	/*
	 * dir 1 of a hairpin into another nat network's forward (t91):
	 * the network of its guest, the opener, whose port the answers go
	 * to (net_id is the forward's network); 0: net_id's
	 */
	__u8 gnet;
	__u8 pad3;
	__u32 nh_ifindex;
	__u32 nh_gen;
	__u8 nh_dmac[6];
	__u8 nh_smac[6];
};

/*
 * A translated flow's packets take the FIB's answer cached in its entry
 * (kvb_ct.nh_*) for at most this long: then one packet asks the FIB again
 * and refreshes last_ns, so last_ns is written at most once a second, and
 * a route or neighbour change the loader did not see (it bumps
 * kvb_natst.nh_gen on every change it makes or notices) holds a flow at
 * most this long.
 */
#define KVB_NH_REVALIDATE_NS 1000000000ULL

/*
 * A reply refreshes its flow's last_ns at most this often: the entry is
 * shared by the CPUs that carry the flow, and timeouts are of seconds.
 */
#define KVB_CT_REFRESH_NS 1000000000ULL

/*
 * A packet at now of a NAT flow's entry or an ACL connection (its state
 * and clock): the clock is rewritten at most once in KVB_CT_REFRESH_NS
 * (a clock ahead of now, another CPU's, is left be); an answered UDP
 * one's stays where it began until a packet KVB_CT_STREAM_NS on makes it
 * a stream, established (conntrack's rule). Returns 1 when it did.
 */
static inline int kvb_ct_clock(__u8 *state, __u64 *last_ns, __u64 now)
{
	if ((__s64)(now - *last_ns) <= 0)	/* signed: a clock set
						 * before boot is past */
		return 0;
	if (*state == KVB_CT_ANSWERED) {
		if (now - *last_ns < KVB_CT_STREAM_NS)
			return 0;
		*state = KVB_CT_ESTABLISHED;
		*last_ns = now;
		return 1;
	}
	if (now - *last_ns >= KVB_CT_REFRESH_NS)
		*last_ns = now;
	return 0;
}

enum kvb_td_flags {
	KVB_TD_SEEN = 1 << 0,	/* end is set */
	KVB_TD_ACK = 1 << 1,	/* maxack, maxend are set */
	KVB_TD_SYN = 1 << 2,	/* its SYN was seen: wscale is known */
	KVB_TD_WS = 1 << 3,	/* its SYN offered window scaling */
};

/*
 * kvb_natmap: HASH, NAT's endpoint-independent mappings (RFC 4787 REQ-1):
 * one NAT port per guest address, port and protocol (TCP, UDP) for every
 * destination, while a flow uses it. Three kinds of key:
 *   KVB_NM_GUEST  addr guest address, addr2 NAT address, port guest port;
 *                 the value holds the NAT port and counts the flows that
 *                 use the mapping (the last one to go deletes it);
 *   KVB_NM_NAT    addr NAT address, port NAT port: the reverse, the
 *                 guest's endpoint (claimed first, with BPF_NOEXIST, so a
 *                 NAT port has one owner);
 *   KVB_NM_PEER   addr NAT address, addr2 a remote address, port NAT
 *                 port: the guest sent to that address (address-dependent
 *                 filtering), counted like a mapping;
 *   KVB_NM_SLOT   addr NAT address, port a guest port's slot (host
 *                 order), proto: flows counts the NAT ports of proto that
 *                 port holds on that address (its mappings, and flows on
 *                 a port of their own: KVB_CT_M_OWN), at most half of
 *                 NAT's ports (KVB_NAT_PORT_SHARE), so that one guest
 *                 cannot take every port towards a destination from the
 *                 others.
 * Flows holding a reference say so in kvb_ct.mapped (KVB_CT_M_*).
 */
#define KVB_MAX_NATMAP 1048576

enum kvb_natmap_kind {
	KVB_NM_GUEST = 0,
	KVB_NM_NAT = 1,
	KVB_NM_PEER = 2,
	KVB_NM_SLOT = 3,
};

struct kvb_natmap_key {
	__be32 addr;
	__be32 addr2;
	__be16 port;
	__u8 proto;
	__u8 kind;		/* enum kvb_natmap_kind */
};

struct kvb_natmap {
	struct bpf_spin_lock lock;
	__u32 flows;		/* flows using it; 0: dead, being deleted */
	__be32 addr;		/* GUEST: NAT address; NAT: guest address */
	__be16 port;		/* GUEST: NAT port; NAT: guest port; SLOT:
				 * one NAT port the guest port's mappings
				 * held lately (a hint, nat_candidate) */
	__u16 pad;
	__u32 net_id;
	__u32 guest_ifindex;	/* NAT: where the guest is */
	__u8 guest_mac[6];
	/* GUEST, NAT: the slot of the guest port whose KVB_NM_SLOT count
	 * holds the mapping, 0: none (a mapping made before there were
	 * counts; was padding, so the layout is the same) */
	__u16 slot;
};

/*
 * The NAT ports of one NAT address a guest port may hold at once (its
 * KVB_NM_SLOT count): NAT's ports (1024-65535 without the host's range)
 * divided by this. A port that holds them gets no new mapping, and a
 * flow that needs a port of its own gets one of the ports it holds.
 */
#define KVB_NAT_PORT_SHARE 2

enum kvb_ct_mapped {
	KVB_CT_M_MAP = 1 << 0,	/* holds its KVB_NM_GUEST mapping */
	KVB_CT_M_PEER = 1 << 1,	/* holds its KVB_NM_PEER entry */
	/* a port of its own (no mapping), counted in its slot's
	 * KVB_NM_SLOT */
	KVB_CT_M_OWN = 1 << 2,
};

/*
 * kvb_fwd: HASH, port forwards of nat networks: a connection from the
 * WAN to nat address:port (no tracked flow yet) goes to a guest.
 */
#define KVB_MAX_FWD 4096
#define KVB_MAX_FWD_RANGE 1024	/* ports in one 'forward add' */

struct kvb_fwd_key {
	__be32 addr;		/* the nat network's WAN address */
	__be16 port;
	__u8 proto;		/* IPPROTO_TCP or IPPROTO_UDP */
	__u8 pad;
};

struct kvb_fwd {
	__be32 to_addr;		/* the guest */
	__be16 to_port;
	__u16 pad;
	__u32 net_id;
	__u32 ifindex;		/* the guest's port */
	__u8 mac[6];		/* the guest's MAC */
	__u16 pad2;
};

/*
 * kvb_natst: ARRAY of one, key 0, NAT's state for the whole fabric. key:
 * the SipHash key of the port choice, random per fabric (getrandom at
 * creation), so that no guest predicts which port a flow gets. nh_gen:
 * the generation of the flows' cached next hops. vteps4: how many IPv4
 * vteps the fabric's overlay networks have.
 */
struct kvb_natst {
	__u64 key[2];
	__u32 nh_gen;		/* bumped by the loader when the host's routes,
				 * addresses or links may have changed: every
				 * flow's cached next hop (kvb_ct.nh_*) is void */
	__u32 vteps4;		/* IPv4 vteps in kvb_vtep, kept by the loader
				 * (overlay_sync, the upkeep step): NAT never
				 * translates a guest's VXLAN while there is one
				 * (nat-vtep) */
};

/*
 * SipHash-2-4 of two 64-bit words (16 bytes) under the 128-bit key k0,
 * k1, as the kernel's siphash: the NAT port search's start (nat.h:
 * flow_hash, keyed with kvb_natst.key) and the loader's tag of reserved
 * DHCP identifiers (fabric_tag), a PRF of that key that gives nothing
 * of it away. The port search's second word never has bits 8-15 set
 * (ports, then the protocol in the low byte); the tag's always has.
 */
static inline __u64 kvb_rol64(__u64 w, unsigned int s)
{
	return w << s | w >> (64 - s);
}

#define KVB_SIPROUND							\
	do {								\
		v0 += v1; v1 = kvb_rol64(v1, 13); v1 ^= v0;		\
		v0 = kvb_rol64(v0, 32);					\
		v2 += v3; v3 = kvb_rol64(v3, 16); v3 ^= v2;		\
		v0 += v3; v3 = kvb_rol64(v3, 21); v3 ^= v0;		\
		v2 += v1; v1 = kvb_rol64(v1, 17); v1 ^= v2;		\
		v2 = kvb_rol64(v2, 32);					\
	} while (0)

#define KVB_SIPBLOCK(m)							\
	do { v3 ^= (m); KVB_SIPROUND; KVB_SIPROUND; v0 ^= (m); } while (0)

static inline __u64 kvb_siphash_2u64(__u64 a, __u64 b, __u64 k0, __u64 k1)
{
	__u64 v0 = 0x736f6d6570736575ULL ^ k0;
	__u64 v1 = 0x646f72616e646f6dULL ^ k1;
	__u64 v2 = 0x6c7967656e657261ULL ^ k0;
	__u64 v3 = 0x7465646279746573ULL ^ k1;

	KVB_SIPBLOCK(a);
	KVB_SIPBLOCK(b);
	KVB_SIPBLOCK(16ULL << 56);
	v2 ^= 0xff;
	KVB_SIPROUND;
	KVB_SIPROUND;
	KVB_SIPROUND;
	KVB_SIPROUND;
	return v0 ^ v1 ^ v2 ^ v3;
}

/*
 * kvb_ctsweep: ARRAY of one, key 0, NAT's expiry sweep: a bpf_timer that
 * walks kvb_ct every KVB_CT_SWEEP_NS (or rarer) and deletes the flows no
 * packet kept alive (either way, within their timeout), counting them
 * down in kvb_ctcnt; armed when the programs are loaded. It also ends
 * idle ACL connections, dead address bindings and aged MACs. An empty
 * table is not walked (nat.h: ct_sweep). Userspace only reads it
 * (writing an element with a timer cancels the timer).
 */
struct kvb_ctsweep {
	struct bpf_timer timer;
	__u64 runs;
	__u64 seen;		/* entries the last run visited */
	__u64 freed;		/* flows deleted, all runs */
	__u64 ns;		/* how long the last run took */
	__u64 next_ns;		/* how long until the next run */
	__u64 fdb_entries;	/* kvb_fdb's entries as the last run left them */
	__u64 fdb_new;		/* entries the datapath added since that run
				 * began (learned, pinned): with fdb_entries,
				 * never fewer than the table holds, but for
				 * the loader's static ones (fdb.h: fdb_room) */
	__u64 ct_seen;		/* kvb_ct entries the last walk of it visited:
				 * 0 with no flow counted skips the next
				 * walk (nat.h: ct_sweep) */
	__u64 acl_seen;		/* the same of the ACL connection tables, 0
				 * with no connection counted (acl_sweep) */
	__u64 fdb_over;		/* learned entries past their networks'
				 * KVB_FDB_NET_MIN, as the last run left them:
				 * the shared places taken (kvb_fdbnet) */
	__u64 fdb_over_new;	/* shared places taken since that run began */
};

/*
 * kvb_fdbnet: ARRAY of KVB_MAX_NETS by network id: the learned (not
 * static) entries of each network's MAC table, for learning's share of
 * it (KVB_FDB_NET_MIN; fdb.h: fdb_room). Counted as kvb_ctsweep counts
 * the whole table: what the last sweep found, plus what the datapath
 * added since that sweep began; never fewer than the network holds.
 * Written by the datapath and the sweep only.
 */
struct kvb_fdbnet {
	__u64 learned;		/* the last sweep's count */
	__u64 added;		/* learned since that sweep began */
	__u64 walk;		/* the running sweep's count */
	__u64 held;		/* `added` as the running sweep began */
};

#define KVB_CT_SWEEP_NS 1000000000ULL	/* a sweep a second, or rarer */
#define KVB_CT_SWEEP_FULL 30	/* every 30th run walks every table, empty
				 * or not: what no count holds goes too */
#define KVB_CT_SWEEP_MAX 16384	/* flows freed by one sweep, at most */
/* a run that freed KVB_CT_SWEEP_MAX left dead flows behind: the next
 * comes after KVB_CT_SWEEP_BACKLOG times its length, not 50, and at
 * least KVB_CT_SWEEP_MIN_NS after it */
#define KVB_CT_SWEEP_BACKLOG 4
#define KVB_CT_SWEEP_MIN_NS 10000000ULL

/*
 * kvb_ctcnt: ARRAY indexed by network id, __u64 flows currently tracked
 * (created by the datapath, counted down on expiry and by ct flush).
 */

/*
 * kvb_route: LPM_TRIE, which network a destination address belongs to.
 * IPv4 keys are IPv4-mapped IPv6 (::ffff:a.b.c.d, prefix length + 96).
 */
struct kvb_route_key {
	__u32 prefixlen;
	__u8 addr[16];
};

struct kvb_route {
	__u32 net_id;
	__u32 gw_host;		/* that network's host interface */
};

/*
 * kvb_rtnh4: LRU hash of KVB_RTNH_MAX, not pinned (a cache: a reload
 * starts it empty), the FIB's answer for routed IPv4 (route.h:
 * route_ask), so that a packet whose source and destination the FIB
 * answered before skips bpf_fib_lookup. Valid while gen equals the
 * kernel's IPv4 route generation of the namespace (kern.h: rt_gen4,
 * bumped by every change of routes, rules, addresses, devices and
 * forwarding), for at most KVB_NH_REVALIDATE_NS since checked_ns (a
 * path MTU the host learns does not bump it), and for packets of at
 * most len bytes on the wire (the largest the FIB accepted: the route's
 * MTU). Only BPF_FIB_LKUP_RET_SUCCESS with an IPv4 next hop is kept.
 */
#define KVB_RTNH_MAX 16384

struct kvb_rtnh4_key {
	__be32 saddr;
	__be32 daddr;
	__u32 ifindex;		/* the host interface the FIB was asked for */
};

struct kvb_rtnh4 {
	/* the key again: an LRU hash hands a deleted entry to the next
	 * insert at once, so a reader checks whose entry it copied */
	struct kvb_rtnh4_key key;
	__u32 gen;		/* rt_genid then */
	__u64 checked_ns;	/* when the FIB last gave this answer */
	__u32 out;		/* the egress device it named */
	__be32 nh;		/* the next hop (daddr itself on link) */
	__u16 len;		/* the largest length it accepted */
	__u16 pad;
	__u32 ns;		/* the namespace's tag (kern.h: rt_gen4):
				 * generations of two are not comparable */
	/* kvb_rtnh4_check of the fields above: a copy torn by a writer
	 * reusing the entry (the key of one answer, the next hop of
	 * another) is taken for none */
	__u32 check;
};

/* A route cache entry's check word: every field before check. */
static inline __u32 kvb_rtnh4_check(const struct kvb_rtnh4 *v)
{
	return kvb_check_words((const kvb_word_t *)v,
			       __builtin_offsetof(struct kvb_rtnh4, check) / 4);
}

/*
 * kvb_nhwait: LRU hash of KVB_NHWAIT_MAX, not pinned (a reload starts it
 * empty), the next hops the FIB named without a valid neighbour
 * (BPF_FIB_LKUP_RET_NO_NEIGH) for a nat guest's IPv4 packet, or a routed
 * packet to a router (route.h: route_out; neigh.h: nh_unresolved). bpf_redirect_neigh resolves the neighbour but drops
 * what it queued, silently, when ARP fails: the kernel's forwarding
 * answers each of those packets "host unreachable". So the fabric keeps
 * when a next hop was first found unresolved; after KVB_NH_WAIT_NS (about
 * the kernel's three probes a second apart) of packets that all found it so,
 * none more than KVB_NH_GAP_NS after the one before, the packets are
 * answered host unreachable from the gateway, and one every
 * KVB_NH_RETRY_NS is still sent, which asks ARP again.
 */
#define KVB_NHWAIT_MAX 4096
/* a little less than the kernel's 3 s (three probes a second apart): a
 * TCP SYN sent again 3 s after the first (RTO 1 s, then 2 s) is then the
 * one answered, as the kernel answers the SYNs it queued when its probes
 * end */
#define KVB_NH_WAIT_NS 2500000000ULL
#define KVB_NH_RETRY_NS 3000000000ULL
/* longer than a TCP SYN's retransmission gaps (3 and 4 s on this
 * kernel), shorter than the 5 s the kernel keeps a neighbour entry it
 * (re)made from forced garbage collection */
#define KVB_NH_GAP_NS 4500000000ULL

struct kvb_nhwait_key {
	__u32 ifindex;		/* the egress device the FIB named */
	__u32 family;		/* AF_INET or AF_INET6 of addr */
	__u8 addr[16];		/* the next hop (IPv4: the first 4 bytes) */
};

struct kvb_nhwait {
	__u64 first_ns;		/* first found unresolved */
	__u64 last_ns;		/* last found unresolved */
	__u64 retry_ns;		/* a packet goes to ask ARP again at
				 * retry_ns + KVB_NH_RETRY_NS */
};

/*
 * kvb_nhmiss: ARRAY of one, not pinned: when any next hop was last found
 * unresolved (nh_unresolved). A packet whose next hop the FIB finds
 * resolved looks kvb_nhwait up (nh_resolved, to end an episode) only
 * within KVB_NH_GAP_NS of it.
 */
struct kvb_nhmiss {
	__u64 last_ns;
};

/*
 * kvb_hostif: HASH, key __u32 ifindex of a nat or routed network's host
 * interface (kvb_net.gw_host), written by the loader when it makes the
 * interface and removed when it removes it. Routing out where the host's
 * FIB says (route_out) asks it of the egress device: the host may route
 * an address outside every subnet through a guest of another network (an
 * operator's route via a router VM, or onto that network's interface),
 * which only a network peered with that one may take. A hint: the
 * network named must still hold that interface (kvb_net.gw_host).
 */
struct kvb_hostif {
	__u32 net_id;
};

/* Default idle timeouts, seconds; `net set NAME ct-timeout` overrides. */
#define KVB_CT_TCP_EST_S 7440
#define KVB_CT_TCP_OTHER_S 120
#define KVB_CT_UDP_S 180
#define KVB_CT_ICMP_S 30
/* any flow but TCP's until its first answer: conntrack's unreplied UDP */
#define KVB_CT_UNREPLIED_S 30

/*
 * An entry's idle timeout in seconds: by protocol and TCP state, the
 * network's setting (ct_timeout[], 0: default) over the default, and any
 * flow but TCP's at most KVB_CT_UNREPLIED_S until its first answer (a
 * flood of UDP from forged sources at a forwarded port, or a guest's to
 * addresses that never answer, does not hold the network's flows for
 * 180 s each). One definition for the datapath, the sweep and `ct show`.
 */
static inline __u32 kvb_ct_timeout_s(const __u32 ct_timeout[4], __u8 proto,
				     __u8 state)
{
	__u32 t = KVB_CT_T_UDP, s = KVB_CT_UDP_S;

	if (proto == 6 && state == KVB_CT_ESTABLISHED) {
		t = KVB_CT_T_TCP_EST;
		s = KVB_CT_TCP_EST_S;
	} else if (proto == 6) {
		t = KVB_CT_T_TCP;
		s = KVB_CT_TCP_OTHER_S;
	} else if (proto == 1) {
		t = KVB_CT_T_ICMP;
		s = KVB_CT_ICMP_S;
	}
	if (ct_timeout && ct_timeout[t & 3])
		s = ct_timeout[t & 3];
	if (proto != 6 && state != KVB_CT_ESTABLISHED &&
	    s > KVB_CT_UNREPLIED_S)
		s = KVB_CT_UNREPLIED_S;
	/* answered: long enough to become a stream (its clock stays where
	 * it began until a packet 2 s on), whatever the UDP timeout set */
	if (state == KVB_CT_ANSWERED && s < KVB_CT_STREAM_NS / 1000000000 + 1)
		s = KVB_CT_STREAM_NS / 1000000000 + 1;
	return s;
}

/*
 * The state of a NAT flow that is not TCP at its first answer:
 * established, but UDP's answered only (KVB_CT_ANSWERED, conntrack's
 * rule: a query and its answer go after the unreplied timeout; one still
 * alive 2 s on, a stream, the datapath establishes). An ACL connection's
 * (acl.h: acl_ct_opening) is answered whatever its protocol, and an ICMP
 * query's stays new.
 */
static inline __u8 kvb_ct_answered_state(__u8 proto)
{
	return proto == 17 ? KVB_CT_ANSWERED : KVB_CT_ESTABLISHED;
}

/*
 * The reply key of a flow from its original entry. Hairpin flows are
 * answered by the forward's guest (addr2:port2) to the gateway (addr);
 * the others by the remote (the original's destination) to the NAT
 * address; an ICMP echo reply carries only the identifier.
 */
static inline void kvb_ct_reply_key(const struct kvb_ct_key *ok,
				    const struct kvb_ct *o,
				    struct kvb_ct_key *rk)
{
	rk->daddr = o->addr;
	rk->dport = o->port;
	rk->proto = ok->proto;
	rk->dir = 1;
	rk->pad = 0;
	if (o->hairpin) {
		rk->saddr = o->addr2;
		rk->sport = o->port2;
	} else {
		rk->saddr = ok->daddr;
		rk->sport = ok->proto == 1 ? 0 : ok->dport;
	}
}

/*
 * The original key of a flow from its reply entry r (key rk): a
 * hairpin's reply names both ends of the original (addr2:port2 the guest
 * that connected, addr:port the WAN address and port it asked for); any
 * other's, the guest's address and port (addr:port) towards the remote
 * that answers (rk's source; an ICMP echo's port 0).
 */
static inline void kvb_ct_orig_key(const struct kvb_ct_key *rk,
				   const struct kvb_ct *r,
				   struct kvb_ct_key *ok)
{
	ok->saddr = r->hairpin ? r->addr2 : r->addr;
	ok->daddr = r->hairpin ? r->addr : rk->saddr;
	ok->sport = r->hairpin ? r->port2 : r->port;
	ok->dport = r->hairpin ? r->port : rk->sport;
	ok->proto = rk->proto;
	ok->dir = 0;
	ok->pad = 0;
}

/*
 * A flow lives while either of its entries does (a packet either way
 * within its timeout); now and the last_ns are the datapath clock.
 * reply may be NULL (gone).
 */
static inline int kvb_ct_entry_live(const __u32 ct_timeout[4], __u8 proto,
				    const struct kvb_ct *e, __u64 now)
{
	__u64 t = (__u64)kvb_ct_timeout_s(ct_timeout, proto, e->state) *
		  1000000000ULL;

	/* signed: a time set before boot is past (kvb_ct_clock) */
	return (__s64)(now - e->last_ns) <= 0 || now - e->last_ns <= t;
}

#endif /* KVB_MAPS_H */
