"""Shared helper for the tools that rewrite GGUF files: copy one metadata field from a gguf-py reader
to a gguf-py writer, keeping its type (arrays of strings as bytes, other arrays element by element)."""
import gguf


def copy_field(writer, name, field):
    """Writes `field` (from `gguf.GGUFReader.fields`) under `name` into `writer`."""
    value_type = field.types[0]
    if value_type == gguf.GGUFValueType.ARRAY:
        if field.types[-1] == gguf.GGUFValueType.STRING:
            writer.add_array(name, [bytes(field.parts[i]) for i in field.data])
        else:
            writer.add_array(name, [field.parts[i].tolist()[0] for i in field.data])
    elif value_type == gguf.GGUFValueType.STRING:
        writer.add_string(name, bytes(field.parts[field.data[0]]).decode())
    else:
        writer.add_key_value(name, field.parts[field.data[0]].tolist()[0], value_type)
