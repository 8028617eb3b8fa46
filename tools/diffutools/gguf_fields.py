"""Shared helpers of the tools that rewrite GGUF files with gguf-py: `copy_field` copies one metadata field
from a reader to a writer, keeping its type (arrays of strings as bytes, other arrays element by element);
`relabel` rewrites a llama GGUF as the `llada` architecture (tools/peers/make_llada_gguf.py for
llama-diffusion-cli, tools/fixtures/make_llada_fixture.py for the converter test's tiny-llada.gguf)."""
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


def relabel(source, destination, mask_id, shift):
    """Writes `destination`: the llama GGUF `source` relabelled as `llada`, with the diffusion metadata."""
    reader = gguf.GGUFReader(source)
    architecture = bytes(reader.fields["general.architecture"].parts[reader.fields["general.architecture"].data[0]]).decode()
    if architecture != "llama":
        raise SystemExit(f"expected a llama GGUF, found {architecture!r}")
    writer = gguf.GGUFWriter(destination, "llada")
    for name, field in reader.fields.items():
        if name.startswith("GGUF.") or name == "general.architecture" or name == "tokenizer.ggml.mask_token_id":
            continue
        if name.startswith("llama."):
            name = "llada." + name[len("llama."):]
        copy_field(writer, name, field)
    writer.add_uint32("tokenizer.ggml.mask_token_id", mask_id)
    writer.add_bool("diffusion.shift_logits", shift)
    for tensor in reader.tensors:
        writer.add_tensor(tensor.name, tensor.data, raw_shape=tensor.data.shape, raw_dtype=tensor.tensor_type)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return len(reader.tensors)
