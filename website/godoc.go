package website

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"time"
)

// fieldDocs parses the non-test Go files of the package in dir and returns
// the doc comment of every struct field, keyed "Type.Field".
func fieldDocs(dir string) (map[string]string, error) {
	fset := token.NewFileSet()
	files, err := filepath.Glob(filepath.Join(dir, "*.go"))
	if err != nil {
		return nil, err
	}
	docs := map[string]string{}
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, parser.ParseComments)
		if err != nil {
			return nil, fmt.Errorf("parse %s: %w", name, err)
		}
		ast.Inspect(f, func(n ast.Node) bool {
			ts, ok := n.(*ast.TypeSpec)
			if !ok {
				return true
			}
			st, ok := ts.Type.(*ast.StructType)
			if !ok {
				return false
			}
			for _, fld := range st.Fields.List {
				if fld.Doc == nil {
					continue
				}
				text := strings.Join(strings.Fields(fld.Doc.Text()), " ")
				for _, id := range fld.Names {
					docs[ts.Name.Name+"."+id.Name] = text
				}
			}
			return false
		})
	}
	return docs, nil
}

// field is one documented key of a configuration or spec struct.
type field struct {
	Key, Type, Default, Doc string
}

var durationType = reflect.TypeFor[time.Duration]()

// walkFields lists the JSON keys of struct type t (nested structs as dotted
// keys, slices of structs as "key[].sub"), with their type, their value in
// def (a value of t, or invalid for none) as the default, and their doc
// comment from docs.
func walkFields(t reflect.Type, def reflect.Value, prefix string, docs map[string]string) []field {
	var out []field
	for i := range t.NumField() {
		sf := t.Field(i)
		name, _, _ := strings.Cut(sf.Tag.Get("json"), ",")
		if !sf.IsExported() || name == "-" {
			continue
		}
		if name == "" {
			name = sf.Name
		}
		key := prefix + name
		ft := sf.Type
		var fv reflect.Value
		if def.IsValid() {
			fv = def.Field(i)
		}
		if ft.Kind() == reflect.Pointer {
			ft = ft.Elem()
			if fv.IsValid() {
				if fv.IsNil() {
					fv = reflect.Value{}
				} else {
					fv = fv.Elem()
				}
			}
		}
		doc := docs[t.Name()+"."+sf.Name]
		switch {
		case ft.Kind() == reflect.Struct && ft != durationType:
			out = append(out, field{Key: key, Type: "object", Doc: doc})
			out = append(out, walkFields(ft, fv, key+".", docs)...)
		case ft.Kind() == reflect.Slice && ft.Elem().Kind() == reflect.Struct:
			out = append(out, field{Key: key, Type: "list of objects", Doc: doc})
			out = append(out, walkFields(ft.Elem(), reflect.Value{}, key+"[].", docs)...)
		default:
			out = append(out, field{Key: key, Type: typeName(ft), Default: defaultText(fv), Doc: doc})
		}
	}
	return out
}

func typeName(t reflect.Type) string {
	if t == durationType {
		return "duration"
	}
	switch t.Kind() {
	case reflect.Slice:
		return "list of " + typeName(t.Elem())
	case reflect.Map:
		return "map of " + typeName(t.Key()) + " to " + typeName(t.Elem())
	case reflect.Interface:
		return "any"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "integer"
	case reflect.Float32, reflect.Float64:
		return "number"
	}
	return t.Kind().String()
}

// defaultText formats a default value; zero values and invalid ones are "".
func defaultText(v reflect.Value) string {
	if !v.IsValid() || v.IsZero() {
		return ""
	}
	if v.Type() == durationType {
		return time.Duration(v.Int()).String()
	}
	switch v.Kind() {
	case reflect.String:
		return fmt.Sprintf("%q", v.String())
	case reflect.Map:
		keys := v.MapKeys()
		parts := make([]string, 0, len(keys))
		for _, k := range keys {
			parts = append(parts, fmt.Sprintf("%v=%v", k, v.MapIndex(k)))
		}
		sort.Strings(parts)
		return strings.Join(parts, ", ")
	}
	return fmt.Sprint(v.Interface())
}

// writeFieldTable writes fields as a Markdown table with an anchor per key.
func writeFieldTable(b *strings.Builder, fields []field, anchor func(string) string, extra func(field) string) {
	b.WriteString("| Key | Type | Default | Description |\n| --- | --- | --- | --- |\n")
	for _, f := range fields {
		def := f.Default
		if def != "" {
			def = "`" + strings.ReplaceAll(def, "`", "") + "`"
		}
		doc := mdCell(f.Doc)
		if extra != nil {
			if x := extra(f); x != "" {
				doc += " " + x
			}
		}
		fmt.Fprintf(b, "| <span id=\"%s\"></span>`%s` | %s | %s | %s |\n", anchor(f.Key), f.Key, f.Type, mdCell(def), doc)
	}
	b.WriteString("\n")
}

func sortStrings(s []string) { sort.Strings(s) }
