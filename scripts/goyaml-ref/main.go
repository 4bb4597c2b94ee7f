// goyaml-ref prints what sigs.k8s.io/yaml v1.4.0 (the library vendir v0.44.0
// writes its lock and hashes lazy configs with) makes of values: one JSON
// document per input line in, decoded and passed to yaml.Marshal as vendir
// passes its structs (through encoding/json), a JSON array of the YAML texts out.
// tests/goyaml_parity.rs compares src/goyaml.rs with it.
package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"

	"sigs.k8s.io/yaml"
)

func main() {
	in := bufio.NewScanner(os.Stdin)
	in.Buffer(make([]byte, 1<<20), 64<<20)
	var out []string
	for in.Scan() {
		var v interface{}
		if err := json.Unmarshal(in.Bytes(), &v); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		// Some strings (a raw NEL or BOM inside) cannot be marshalled at all:
		// vendir fails on them too. Say so in place of the text.
		y, err := yaml.Marshal(v)
		if err != nil {
			out = append(out, "\x00error: "+err.Error())
			continue
		}
		out = append(out, string(y))
	}
	if err := json.NewEncoder(os.Stdout).Encode(out); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
