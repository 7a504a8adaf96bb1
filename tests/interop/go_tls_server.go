// A TLS server with the defaults of Go's crypto/tls, as PD, TiDB's status port and TiCDC serve
// theirs: only a certificate is set, every other field of tls.Config is left to the toolchain.
// tests/interop/hygiene.rs builds it and scans it with `tlsaudit scan` and sslyze. Each
// connection gets its handshake (or its failure) and is closed.
//
// Usage: go_tls_server CERT.pem KEY.pem PORT (listens on 127.0.0.1:PORT).
package main

import (
	"crypto/tls"
	"log"
	"net"
	"os"
	"time"
)

func main() {
	if len(os.Args) != 4 {
		log.Fatal("usage: go_tls_server CERT.pem KEY.pem PORT")
	}
	cert, err := tls.LoadX509KeyPair(os.Args[1], os.Args[2])
	if err != nil {
		log.Fatal(err)
	}
	config := &tls.Config{Certificates: []tls.Certificate{cert}}
	ln, err := tls.Listen("tcp", net.JoinHostPort("127.0.0.1", os.Args[3]), config)
	if err != nil {
		log.Fatal(err)
	}
	for {
		conn, err := ln.Accept()
		if err != nil {
			log.Fatal(err)
		}
		go handshake(conn.(*tls.Conn))
	}
}

// handshake runs the handshake (within ten seconds) and closes the connection.
func handshake(conn *tls.Conn) {
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	_ = conn.Handshake()
}
