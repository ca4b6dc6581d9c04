package destination

import "fmt"

// The port rule: a webhook URL may use port 80, 443, or any port from 1024
// to 65535 except refusedPorts. Below 1024 live SSH, SMTP, DNS and the other
// system services; refusedPorts are the well-known ports of databases,
// queues and cluster control planes, which answer a stray request with
// data or obey it. The rule is about ports, not addresses: it holds for
// every destination, allowlisted ranges (DELIVERY_ALLOW_CIDRS) included, and
// it is the webhook URL's port that is judged, never a proxy's.
const minPort = 1024

// refusedPorts maps each refused port from minPort up to the service that
// listens on it.
var refusedPorts = map[int]string{
	1433:  "Microsoft SQL Server",
	1521:  "Oracle Database",
	2049:  "NFS",
	2181:  "ZooKeeper",
	2375:  "Docker API",
	2376:  "Docker API over TLS",
	2379:  "etcd",
	2380:  "etcd peers",
	3306:  "MySQL",
	5432:  "PostgreSQL",
	5672:  "AMQP",
	5984:  "CouchDB",
	6379:  "Redis",
	6443:  "Kubernetes API",
	8500:  "Consul",
	9042:  "Cassandra",
	9092:  "Kafka",
	9200:  "Elasticsearch",
	9300:  "Elasticsearch nodes",
	10250: "Kubernetes kubelet API",
	10255: "Kubernetes kubelet read-only API",
	11211: "memcached",
	27017: "MongoDB",
}

// portAllowed applies the port rule to port (1 to 65535).
func portAllowed(port int) bool {
	if port == 80 || port == 443 {
		return true
	}
	_, refused := refusedPorts[port]
	return port >= minPort && !refused
}

// PortError is a webhook URL whose port the port rule refuses. It wraps
// ErrBlocked, and its message is fit to show the customer.
type PortError struct {
	Port int
}

// Error names the port, and the service on it when it is a known one.
func (e *PortError) Error() string {
	service := ""
	if name, ok := refusedPorts[e.Port]; ok {
		service = " (" + name + ")"
	}
	return fmt.Sprintf("url port %d%s is not allowed: use 80, 443, or a port from %d to 65535 that is not a well-known database or infrastructure port",
		e.Port, service, minPort)
}

// Unwrap makes a PortError an ErrBlocked.
func (e *PortError) Unwrap() error { return ErrBlocked }
