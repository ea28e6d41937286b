// Command kstatus prints the verdict of the kstatus library (the one Flux, kpt, Config Sync
// and cli-utils use) on Kubernetes objects: a JSON object, a JSON array of objects or a
// `kind: List` on stdin; one JSON line per object on stdout ({"kind", "name", "status",
// "message"}). Not part of the product: the integration tests run it on objects read from the
// API server (tests/integration/test_kstatus.py).
package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utiljson "k8s.io/apimachinery/pkg/util/json"
	"sigs.k8s.io/cli-utils/pkg/kstatus/status"
)

type verdict struct {
	Kind    string `json:"kind"`
	Name    string `json:"name"`
	Status  string `json:"status"`
	Message string `json:"message"`
}

func main() {
	if err := run(os.Stdin, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "kstatus:", err)
		os.Exit(1)
	}
}

func run(in io.Reader, out io.Writer) error {
	data, err := io.ReadAll(in)
	if err != nil {
		return err
	}
	objects, err := decode(data)
	if err != nil {
		return err
	}
	encoder := json.NewEncoder(out)
	for _, object := range objects {
		result, err := status.Compute(object)
		if err != nil {
			return fmt.Errorf("%s %s: %w", object.GetKind(), object.GetName(), err)
		}
		line := verdict{object.GetKind(), object.GetName(), result.Status.String(), result.Message}
		if err := encoder.Encode(line); err != nil {
			return err
		}
	}
	return nil
}

// decode reads one object, an array of objects, or a List's items. Numbers become int64 where
// they are whole, as unstructured objects expect (kstatus reads metadata.generation as int64).
func decode(data []byte) ([]*unstructured.Unstructured, error) {
	var items []interface{}
	if err := utiljson.Unmarshal(data, &items); err != nil {
		var single map[string]interface{}
		if err := utiljson.Unmarshal(data, &single); err != nil {
			return nil, fmt.Errorf("stdin is neither a JSON object nor an array: %w", err)
		}
		items = []interface{}{single}
		if listed, ok := single["items"].([]interface{}); ok {
			items = listed
		}
	}
	objects := make([]*unstructured.Unstructured, 0, len(items))
	for _, item := range items {
		object, ok := item.(map[string]interface{})
		if !ok {
			return nil, fmt.Errorf("an item is not a JSON object")
		}
		objects = append(objects, &unstructured.Unstructured{Object: object})
	}
	return objects, nil
}
