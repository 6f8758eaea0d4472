// The etcd server, as etcd's own main.go (module go.etcd.io/etcd/v3) starts it.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() {
	etcdmain.Main(os.Args)
}
