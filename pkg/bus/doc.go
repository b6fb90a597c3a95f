// Package bus is the local failover bus: the gRPC plumbing every hasuite
// daemon shares on its unix socket, and the two roles of the Failover service
// (proto/hasuite/bus/v1).
//
// Sockets: [Listen] creates <run-dir>/<daemon>.sock (mode 0660, group
// hasuite), removing a stale socket but refusing to start twice. [NewServer]
// builds a *grpc.Server that checks each client's SO_PEERCRED credentials:
// root and members of group hasuite may call it, anyone else gets a
// PermissionDenied error that says what to do. [Dial] connects a client.
//
// Producers (vrrpd for each VRRP group and sync group, clusterd for its
// cluster group) embed a [Producer] and register it as their FailoverServer.
// They call [Producer.Publish] on every transition and [Producer.Remove] when
// a group is deconfigured. Watchers get a snapshot, an end-of-snapshot marker
// and then every transition; a watcher that falls more than its buffer behind
// is disconnected rather than allowed to block the producer, and re-reads the
// snapshot when it reconnects.
//
// Consumers (ctsyncd, later wlbd and cfgsyncd) call [WatchFailover]. It is
// level-triggered: every [Update] carries the group's current state, not an
// edge, and the consumer acts on the latest one it reads. After each
// reconnect the snapshot is read again. Losing the producer is a state of its
// own, [StateProducerGone], and a producer that restarted is flagged with
// [Update.Restarted].
//
// Gates: a consumer that must act before traffic arrives (ctsyncd commits
// the external conntrack cache) runs a [Holder] with a prepare function. On
// its way to MASTER/ACTIVE the producer claims the role at once but calls
// [Producer.Prepare] before it brings up addresses: every gate holder of the
// group gets the request and the producer waits until all are ready, one
// fails, or the deadline passes. No gate, no wait. A Holder may also demote
// the group ([Holder.SetDemoted]): while any holder does, the producer does
// not preempt a healthy master ([Producer.Demoted]). Gates and demotions live
// as long as the holder's stream, and a Holder re-registers after a producer
// restart.
package bus
