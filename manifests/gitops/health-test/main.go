// Command health-test runs argocd-health.lua against the cases in argocd-health_test.yaml
// the way Argo CD does: gopher-lua (Argo CD's interpreter) with only the base, table and
// package libraries open, the object bound to the global `obj`, and the returned table
// read as {status, message}.
//
// Usage: go run . <health.lua> <health_test.yaml>
// Exits 1 when any case fails; input paths are relative to the test file.
package main

import (
	"fmt"
	"os"
	"path/filepath"

	lua "github.com/yuin/gopher-lua"
	"sigs.k8s.io/yaml"
)

type testFile struct {
	Tests []struct {
		HealthStatus struct {
			Status  string `json:"status"`
			Message string `json:"message"`
		} `json:"healthStatus"`
		InputPath string `json:"inputPath"`
	} `json:"tests"`
}

// The health codes Argo CD accepts; anything else becomes Unknown in Argo CD.
var validStatus = map[string]bool{
	"Healthy": true, "Progressing": true, "Degraded": true,
	"Suspended": true, "Missing": true, "Unknown": true,
}

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: health-test <health.lua> <health_test.yaml>")
		os.Exit(2)
	}
	script, err := os.ReadFile(os.Args[1])
	check(err)
	raw, err := os.ReadFile(os.Args[2])
	check(err)
	var tf testFile
	check(yaml.UnmarshalStrict(raw, &tf))
	if len(tf.Tests) == 0 {
		fmt.Fprintln(os.Stderr, "no test cases")
		os.Exit(1)
	}
	base := filepath.Dir(os.Args[2])
	failed := 0
	for _, tc := range tf.Tests {
		status, message, err := run(string(script), filepath.Join(base, tc.InputPath))
		switch {
		case err != nil:
			failed++
			fmt.Printf("FAIL %s: %v\n", tc.InputPath, err)
		case status != tc.HealthStatus.Status || message != tc.HealthStatus.Message:
			failed++
			fmt.Printf("FAIL %s: got %s %q, want %s %q\n", tc.InputPath, status, message,
				tc.HealthStatus.Status, tc.HealthStatus.Message)
		default:
			fmt.Printf("ok   %s: %s %q\n", tc.InputPath, status, message)
		}
	}
	fmt.Printf("%d cases, %d failed\n", len(tf.Tests), failed)
	if failed > 0 {
		os.Exit(1)
	}
}

func run(script, inputPath string) (string, string, error) {
	raw, err := os.ReadFile(inputPath)
	if err != nil {
		return "", "", err
	}
	var obj map[string]interface{}
	if err := yaml.Unmarshal(raw, &obj); err != nil {
		return "", "", fmt.Errorf("parse %s: %w", inputPath, err)
	}
	l := lua.NewState(lua.Options{SkipOpenLibs: true})
	defer l.Close()
	for _, lib := range []struct {
		name string
		open lua.LGFunction
	}{
		{lua.LoadLibName, lua.OpenPackage},
		{lua.BaseLibName, lua.OpenBase},
		{lua.TabLibName, lua.OpenTable},
	} {
		l.Push(l.NewFunction(lib.open))
		l.Push(lua.LString(lib.name))
		l.Call(1, 0)
	}
	l.SetGlobal("obj", toLua(l, obj))
	if err := l.DoString(script); err != nil {
		return "", "", err
	}
	ret, ok := l.Get(-1).(*lua.LTable)
	if !ok {
		return "", "", fmt.Errorf("script returned %s, not a table", l.Get(-1).Type())
	}
	status := lua.LVAsString(ret.RawGetString("status"))
	if !validStatus[status] {
		return "", "", fmt.Errorf("invalid health status %q", status)
	}
	return status, lua.LVAsString(ret.RawGetString("message")), nil
}

// toLua mirrors Argo CD's decodeValue: maps become tables, lists 1-based tables,
// numbers LNumber.
func toLua(l *lua.LState, v interface{}) lua.LValue {
	switch v := v.(type) {
	case nil:
		return lua.LNil
	case bool:
		return lua.LBool(v)
	case string:
		return lua.LString(v)
	case float64:
		return lua.LNumber(v)
	case int64:
		return lua.LNumber(v)
	case map[string]interface{}:
		t := l.NewTable()
		for k, e := range v {
			t.RawSetString(k, toLua(l, e))
		}
		return t
	case []interface{}:
		t := l.NewTable()
		for _, e := range v {
			t.Append(toLua(l, e))
		}
		return t
	default:
		return lua.LString(fmt.Sprint(v))
	}
}

func check(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
}
