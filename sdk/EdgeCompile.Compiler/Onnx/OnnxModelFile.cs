using System;
using System.IO;
using System.Linq;
using EdgeCompile.Compiler.Onnx.Proto;
using Google.Protobuf;

namespace EdgeCompile.Compiler.Onnx;

/// <summary>
/// Reading and writing whole ONNX files for the writers that rewrite a model (the reference quantized file, the ONNX
/// Runtime baseline). Fields outside onnx_subset.proto survive the round trip: Google.Protobuf keeps unknown fields.
/// </summary>
internal static class OnnxModelFile
{
    /// <summary>Reads a self-contained model; a model whose tensors live in external data files is refused.</summary>
    public static ModelProto Load(string path)
    {
        ModelProto model;
        try
        {
            model = ModelProto.Parser.ParseFrom(File.ReadAllBytes(path));
        }
        catch (Exception e) when (e is InvalidProtocolBufferException or IOException or UnauthorizedAccessException)
        {
            throw new CompilerException(Codes.UnreadableModel, $"cannot read '{path}' as an ONNX model ({e.Message}).");
        }
        if (model.Graph is null) throw new CompilerException(Codes.UnreadableModel, $"'{path}' holds no graph.");
        // Rewriting would have to copy or re-point the external files; no fixture needs it, so say so plainly.
        if (model.Graph.Initializer.FirstOrDefault(t => t.DataLocation == TensorProto.Types.DataLocation.External) is { } external)
            throw new CompilerException(Codes.ExternalData,
                $"'{path}' keeps initializer '{external.Name}' in an external data file; writing a rewritten ONNX file supports only self-contained models. Save the model with its weights inside the .onnx file (onnx.save_model(..., save_as_external_data=False)).");
        return model;
    }

    public static void Save(ModelProto model, string path)
    {
        try
        {
            var dir = Path.GetDirectoryName(Path.GetFullPath(path));
            if (dir is not null) Directory.CreateDirectory(dir);
            File.WriteAllBytes(path, model.ToByteArray());
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new CompilerException(Codes.OutputFailure, $"cannot write the ONNX file '{path}' ({e.Message}).");
        }
    }

    /// <summary>The opset import of the default ONNX domain ("" or "ai.onnx").</summary>
    public static OperatorSetIdProto DefaultOpset(ModelProto model) =>
        model.OpsetImport.FirstOrDefault(o => o.Domain is "" or "ai.onnx")
        ?? throw new CompilerException(Codes.UnsupportedOpset, "the model imports no opset of the default ONNX domain.");

    /// <summary>Imports <paramref name="domain"/> at <paramref name="version"/> unless the model already does.</summary>
    public static void EnsureDomain(ModelProto model, string domain, long version)
    {
        if (!model.OpsetImport.Any(o => o.Domain == domain)) model.OpsetImport.Add(new OperatorSetIdProto { Domain = domain, Version = version });
    }
}
