package services_test

import (
	"context"
	"fmt"
	"io"
	"log"
	"log/slog"
	"time"

	"github.com/aemp-go/aemp/engine"
	"github.com/aemp-go/aemp/framing"
	"github.com/aemp-go/aemp/services"
)

// A node serving echo, calecho and sink, used from another node.
func ExampleServe() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))

	server, err := engine.New(engine.Config{NodeID: "services", Binds: []string{"127.0.0.1:0"}, Secret: "s", Logger: quiet})
	if err != nil {
		log.Fatal(err)
	}
	sink, err := services.Serve(server)
	if err != nil {
		log.Fatal(err)
	}
	if err := server.Start(); err != nil {
		log.Fatal(err)
	}
	defer server.Close(ctx)

	client, err := engine.New(engine.Config{NodeID: "user", Seeds: server.Addrs(), Secret: "s", Logger: quiet})
	if err != nil {
		log.Fatal(err)
	}
	if err := client.Start(); err != nil {
		log.Fatal(err)
	}
	defer client.Close(ctx)

	// calecho: the reply port comes last, the form of Node.Call.
	got, err := client.Call(ctx, "services#calecho", "ping", 1)
	fmt.Println("calecho:", got, err)

	// echo: the reply port comes first.
	replies := make(chan []any, 1)
	reply := client.NewPort(func(m *engine.Message) {
		args, _ := m.Args()
		replies <- args
	})
	client.Send("services#echo", reply, "hello")
	fmt.Println("echo:", <-replies)

	// sink: counts messages and the length of their scalar arguments
	// (as Perl's length() counts them: characters, not bytes).
	for _, word := range []string{"one", "two", "drei", "grün"} {
		client.Send("services#sink", word)
	}
	// ["report", REPLY] answers "count", MESSAGES, LENGTH, CPUSECONDS;
	// it arrives after the messages above (one sender's messages keep
	// their order).
	got, err = client.Call(ctx, "services#sink", "report")
	if err != nil {
		log.Fatal(err)
	}
	n, _ := framing.Int64(got[1])
	length, _ := framing.Int64(got[2])
	fmt.Println("sink:", got[0], n, length)
	msgs, bytes := sink.Counts()
	fmt.Println("counts on the server:", msgs, bytes)
	// Output:
	// calecho: [ping 1] <nil>
	// echo: [hello]
	// sink: count 4 14
	// counts on the server: 4 14
}
