using System;

namespace EdgeCompile.Generators
{
    /// <summary>A plan element type token (<c>f32</c>, <c>i64</c>, ...).</summary>
    internal enum PlanElementType
    {
        F32,
        F16,
        F64,
        I64,
        I32,
        I8,
        U8,
        Bool,
    }

    /// <summary>Where a tensor lives.</summary>
    internal enum PlanStorageKind
    {
        Input,
        Output,
        Arena,
        Weight,
    }

    /// <summary>One parsed <c>.edgeplan</c> file. Immutable, value-equatable (pipeline caching).</summary>
    internal sealed record ModelPlan(
        int Version,
        string ClassName,
        int ClassLine,
        string Namespace,
        string Source,
        string Profile,
        string Resource,
        long WeightBytes,
        long ParameterCount,
        long ArenaBytes,
        EquatableArray<PlanDim> Dims,
        EquatableArray<PlanValue> Inputs,
        EquatableArray<PlanValue> Outputs,
        EquatableArray<PlanTensor> Tensors,
        EquatableArray<PlanIndexCheck> IndexChecks,
        EquatableArray<PlanShapeStruct> ShapeStructs,
        EquatableArray<PlanOp> Ops)
    {
        public string FullName => Namespace.Length == 0 ? ClassName : Namespace + "." + ClassName;

        public PlanTensor? FindTensor(string id)
        {
            foreach (var t in Tensors)
            {
                if (t.Id == id) return t;
            }
            return null;
        }
    }

    /// <summary><c>dim &lt;name&gt; &lt;max&gt;</c>.</summary>
    internal sealed record PlanDim(string Name, int Max);

    /// <summary>A shape: one dimension expression per axis (<c>[]</c> is a scalar).</summary>
    internal sealed record PlanShape(EquatableArray<string> Dims)
    {
        public override string ToString() => "[" + string.Join(",", Dims) + "]";
    }

    /// <summary><c>input</c> / <c>output</c>: a graph input or output.</summary>
    internal sealed record PlanValue(string OnnxName, PlanElementType ElementType, PlanShape Shape, string TensorId);

    /// <summary><c>tensor &lt;id&gt; &lt;dtype&gt; &lt;shape&gt; &lt;storage&gt;</c>.</summary>
    internal sealed record PlanTensor(string Id, PlanElementType ElementType, PlanShape Shape, PlanStorageKind Storage, long Location);

    /// <summary><c>check-indices &lt;tensor&gt; &lt;limit&gt;</c>.</summary>
    internal sealed record PlanIndexCheck(string TensorId, long Limit);

    /// <summary>A named integer constant of a shape struct (<c>K=312</c>).</summary>
    internal sealed record PlanShapeMember(string Name, long Value);

    /// <summary>
    /// <c>shape &lt;Name&gt; &lt;Interface&gt; &lt;Member&gt;=&lt;int&gt;...</c>: a struct implementing a runtime
    /// interface with constant static members, passed to kernels as a generic type argument.
    /// </summary>
    internal sealed record PlanShapeStruct(string Name, string Interface, EquatableArray<PlanShapeMember> Members);

    /// <summary>A named kernel argument of an op line (<c>name=value</c>).</summary>
    internal sealed record PlanParam(string Name, string Value);

    /// <summary>
    /// <c>op &lt;Kernel&gt;[&lt;Shape,...&gt;] in=... out=... params... node=...</c>. An absent input is <c>-</c>;
    /// <see cref="TypeArguments"/> names declared shape structs.
    /// </summary>
    internal sealed record PlanOp(
        string Kernel,
        EquatableArray<string> TypeArguments,
        EquatableArray<string> Inputs,
        EquatableArray<string> Outputs,
        EquatableArray<PlanParam> Params,
        string Node,
        int Line);

    /// <summary>A problem found while parsing or validating a plan, as plain equatable data.</summary>
    internal sealed record PlanDiagnostic(string Id, string Path, int Line, int Start, int Length, int LineLength, string Detail);

    /// <summary>What parsing one plan file produced: the plan (null when it has errors) and the problems.</summary>
    internal sealed record PlanParseResult(string Path, ModelPlan? Plan, EquatableArray<PlanDiagnostic> Diagnostics);

    internal static class PlanElementTypes
    {
        public static bool TryParse(string token, out PlanElementType type)
        {
            switch (token)
            {
                case "f32": type = PlanElementType.F32; return true;
                case "f16": type = PlanElementType.F16; return true;
                case "f64": type = PlanElementType.F64; return true;
                case "i64": type = PlanElementType.I64; return true;
                case "i32": type = PlanElementType.I32; return true;
                case "i8": type = PlanElementType.I8; return true;
                case "u8": type = PlanElementType.U8; return true;
                case "bool": type = PlanElementType.Bool; return true;
                default: type = default; return false;
            }
        }

        /// <summary>The C# type, fully qualified where it is not a keyword.</summary>
        public static string CSharpType(PlanElementType type) => type switch
        {
            PlanElementType.F32 => "float",
            PlanElementType.F16 => "global::System.Half",
            PlanElementType.F64 => "double",
            PlanElementType.I64 => "long",
            PlanElementType.I32 => "int",
            PlanElementType.I8 => "sbyte",
            PlanElementType.U8 => "byte",
            PlanElementType.Bool => "bool",
            _ => throw new ArgumentOutOfRangeException(nameof(type)),
        };

        /// <summary>The member of <c>EdgeCompile.Runtime.TensorElementType</c>.</summary>
        public static string RuntimeName(PlanElementType type) => type switch
        {
            PlanElementType.F32 => "Float32",
            PlanElementType.F16 => "Float16",
            PlanElementType.F64 => "Float64",
            PlanElementType.I64 => "Int64",
            PlanElementType.I32 => "Int32",
            PlanElementType.I8 => "Int8",
            PlanElementType.U8 => "UInt8",
            PlanElementType.Bool => "Bool",
            _ => throw new ArgumentOutOfRangeException(nameof(type)),
        };
    }
}
