using System;
using System.Collections.Generic;
using System.Globalization;

namespace EdgeCompile.Generators
{
    /// <summary>
    /// Parses the text of a <c>.edgeplan</c> file (docs/plan-format.md) into a <see cref="ModelPlan"/>
    /// and checks it is consistent, so that the emitter only ever sees a plan it can turn into code
    /// that compiles. Problems become <see cref="PlanDiagnostic"/>s with the line they are on.
    /// </summary>
    internal sealed class PlanParser
    {
        public const int SupportedVersion = 1;

        private readonly string _path;
        private readonly List<PlanDiagnostic> _diagnostics = new List<PlanDiagnostic>();

        // The line being parsed, for diagnostics.
        private int _lineNumber;
        private int _lineStart;
        private int _lineLength;

        private int? _version;
        private string? _className;
        private int _classLine;
        private string? _namespace;
        private string? _source;
        private string? _profile;
        private string? _resource;
        private long? _weights;
        private long? _parameters;
        private long? _arena;
        private readonly List<PlanDim> _dims = new List<PlanDim>();
        private readonly HashSet<string> _dimNames = new HashSet<string>(StringComparer.Ordinal);
        private readonly List<PlanValue> _inputs = new List<PlanValue>();
        private readonly List<int> _inputLines = new List<int>();
        private readonly List<PlanValue> _outputs = new List<PlanValue>();
        private readonly List<int> _outputLines = new List<int>();
        private readonly List<PlanTensor> _tensors = new List<PlanTensor>();
        private readonly Dictionary<string, PlanTensor> _tensorsById = new Dictionary<string, PlanTensor>(StringComparer.Ordinal);
        private readonly Dictionary<string, int> _tensorLines = new Dictionary<string, int>(StringComparer.Ordinal);
        private readonly List<PlanIndexCheck> _checks = new List<PlanIndexCheck>();
        private readonly List<int> _checkLines = new List<int>();
        private readonly List<PlanOp> _ops = new List<PlanOp>();
        private readonly List<PlanShapeStruct> _shapeStructs = new List<PlanShapeStruct>();
        private readonly HashSet<string> _shapeNames = new HashSet<string>(StringComparer.Ordinal);

        // Saved positions of lines referred to by later checks.
        private readonly Dictionary<int, (int Start, int Length)> _lineSpans = new Dictionary<int, (int, int)>();

        private PlanParser(string path) => _path = path;

        /// <summary>Parses one plan. Never throws on bad input: problems are in the result's diagnostics.</summary>
        public static PlanParseResult Parse(string path, string? text)
        {
            var parser = new PlanParser(path);
            ModelPlan? plan = parser.Run(text ?? string.Empty);
            return new PlanParseResult(path, plan, new EquatableArray<PlanDiagnostic>(parser._diagnostics));
        }

        private ModelPlan? Run(string text)
        {
            int position = 0;
            int number = 0;
            bool sawStatement = false;
            while (position <= text.Length)
            {
                int end = text.IndexOf('\n', position);
                if (end < 0) end = text.Length;
                int next = end + 1;
                int contentEnd = end > position && text[end - 1] == '\r' ? end - 1 : end;
                string line = text.Substring(position, contentEnd - position);
                number++;
                _lineNumber = number;
                _lineStart = position;
                _lineLength = line.Length;
                _lineSpans[number] = (position, line.Length);

                if (line.Length > 0 && line[0] != '#')
                {
                    if (!sawStatement)
                    {
                        sawStatement = true;
                        if (!ParseVersion(line)) return null; // nothing else can be trusted
                    }
                    else
                    {
                        ParseStatement(line);
                    }
                }
                if (next > text.Length) break;
                position = next;
            }

            if (!sawStatement)
            {
                _lineNumber = 1; _lineStart = 0; _lineLength = 0;
                Report(Diagnostics.MissingStatementId, "the plan is empty; its first line must be 'edgeplan 1'");
                return null;
            }

            Validate();
            if (_diagnostics.Count > 0) return null;

            return new ModelPlan(
                _version ?? SupportedVersion,
                _className!,
                _classLine,
                _namespace ?? string.Empty,
                _source ?? string.Empty,
                _profile ?? "portable",
                _resource!,
                _weights ?? 0,
                _parameters ?? 0,
                _arena ?? 0,
                new EquatableArray<PlanDim>(_dims),
                new EquatableArray<PlanValue>(_inputs),
                new EquatableArray<PlanValue>(_outputs),
                new EquatableArray<PlanTensor>(_tensors),
                new EquatableArray<PlanIndexCheck>(_checks),
                new EquatableArray<PlanShapeStruct>(_shapeStructs),
                new EquatableArray<PlanOp>(_ops));
        }

        private bool ParseVersion(string line)
        {
            string[] t = line.Split(' ');
            if (t[0] != "edgeplan")
            {
                Report(Diagnostics.UnsupportedVersionId, $"the first statement must be 'edgeplan {SupportedVersion}', found '{Shorten(line)}' (is this an EdgeCompile plan?)");
                return false;
            }
            if (t.Length != 2 || !int.TryParse(t[1], NumberStyles.None, CultureInfo.InvariantCulture, out int version))
            {
                Report(Diagnostics.MalformedStatementId, "expected 'edgeplan <version>'");
                return false;
            }
            if (version != SupportedVersion)
            {
                Report(Diagnostics.UnsupportedVersionId, $"plan format version {version} is not supported");
                return false;
            }
            _version = version;
            return true;
        }

        private void ParseStatement(string line)
        {
            int space = line.IndexOf(' ');
            string keyword = space < 0 ? line : line.Substring(0, space);
            string[] t = line.Split(' ');
            switch (keyword)
            {
                case "edgeplan":
                    Report(Diagnostics.MalformedStatementId, "'edgeplan' may only appear once, as the first statement");
                    break;
                case "class":
                    if (Expect(t, 2, "class <Name>") && CheckOnce(_className, keyword))
                    {
                        if (!CSharpNames.IsIdentifier(t[1]))
                            Report(Diagnostics.MalformedStatementId, $"class name '{t[1]}' is not a C# identifier");
                        else { _className = t[1]; _classLine = _lineNumber; }
                    }
                    break;
                case "namespace":
                    // 'namespace' with no name (or no statement at all) means the global namespace.
                    if (t.Length > 2) Report(Diagnostics.MalformedStatementId, "expected 'namespace <Dotted.Name>'");
                    else if (CheckOnce(_namespace, keyword))
                    {
                        string ns = t.Length == 2 ? t[1] : string.Empty;
                        if (ns.Length > 0 && !CSharpNames.IsDottedName(ns))
                            Report(Diagnostics.MalformedStatementId, $"namespace '{ns}' is not a dotted C# name");
                        else _namespace = ns;
                    }
                    break;
                case "source":
                    // A path may contain spaces: the rest of the line.
                    if (space < 0) Report(Diagnostics.MalformedStatementId, "expected 'source <path>'");
                    else if (CheckOnce(_source, keyword)) _source = line.Substring(space + 1);
                    break;
                case "profile":
                    if (Expect(t, 2, "profile <name>") && CheckOnce(_profile, keyword)) _profile = t[1];
                    break;
                case "resource":
                    if (Expect(t, 2, "resource <manifest resource name>") && CheckOnce(_resource, keyword)) _resource = t[1];
                    break;
                case "weights":
                    if (Expect(t, 2, "weights <bytes>") && CheckOnce(_weights, keyword)) _weights = ParseLong(t[1], "weights byte count");
                    break;
                case "parameters":
                    if (Expect(t, 2, "parameters <count>") && CheckOnce(_parameters, keyword)) _parameters = ParseLong(t[1], "parameter count");
                    break;
                case "arena":
                    if (Expect(t, 2, "arena <bytes>") && CheckOnce(_arena, keyword)) _arena = ParseLong(t[1], "arena byte count");
                    break;
                case "dim":
                    ParseDim(t);
                    break;
                case "input":
                case "output":
                    ParseValue(t, keyword == "input");
                    break;
                case "tensor":
                    ParseTensor(t);
                    break;
                case "check-indices":
                    ParseCheck(t);
                    break;
                case "shape":
                    ParseShapeStruct(t);
                    break;
                case "op":
                    ParseOp(line);
                    break;
                default:
                    Report(Diagnostics.UnknownStatementId, $"unknown statement '{Shorten(keyword)}'");
                    break;
            }
        }

        private void ParseDim(string[] t)
        {
            if (!Expect(t, 3, "dim <name> <max>")) return;
            string name = t[1];
            if (!CSharpNames.IsSimpleName(name))
            {
                Report(Diagnostics.MalformedStatementId, $"dimension name '{name}' must match [A-Za-z_][A-Za-z0-9_]*");
                return;
            }
            if (!int.TryParse(t[2], NumberStyles.None, CultureInfo.InvariantCulture, out int max) || max < 1)
            {
                Report(Diagnostics.MalformedStatementId, $"dimension maximum '{t[2]}' must be an integer from 1 to {int.MaxValue}");
                return;
            }
            if (name == WorkersName)
            {
                Report(Diagnostics.MalformedStatementId, $"'{WorkersName}' is reserved (the parameter value that names the model's worker pool) and cannot be a dimension name");
                return;
            }
            if (!_dimNames.Add(name))
            {
                Report(Diagnostics.InconsistentPlanId, $"dimension '{name}' is declared twice");
                return;
            }
            _dims.Add(new PlanDim(name, max));
        }

        private void ParseValue(string[] t, bool isInput)
        {
            string keyword = isInput ? "input" : "output";
            if (!Expect(t, 5, keyword + " <onnxName> <dtype> <shape> <tensor>")) return;
            if (!TryElementType(t[2], out var type)) return;
            if (!TryShape(t[3], out var shape)) return;
            var value = new PlanValue(t[1], type, shape, t[4]);
            if (isInput) { _inputs.Add(value); _inputLines.Add(_lineNumber); }
            else { _outputs.Add(value); _outputLines.Add(_lineNumber); }
        }

        private void ParseTensor(string[] t)
        {
            if (!Expect(t, 6, "tensor <id> <dtype> <shape> <storage> <index-or-offset>")) return;
            string id = t[1];
            if (id.Length == 0 || id == "-" || id.IndexOf(',') >= 0)
            {
                Report(Diagnostics.MalformedStatementId, $"tensor id '{id}' is not valid");
                return;
            }
            if (!TryElementType(t[2], out var type)) return;
            if (!TryShape(t[3], out var shape)) return;
            PlanStorageKind storage;
            switch (t[4])
            {
                case "input": storage = PlanStorageKind.Input; break;
                case "output": storage = PlanStorageKind.Output; break;
                case "arena": storage = PlanStorageKind.Arena; break;
                case "weight": storage = PlanStorageKind.Weight; break;
                default:
                    Report(Diagnostics.MalformedStatementId, $"unknown storage '{Shorten(t[4])}' (expected input, output, arena or weight)");
                    return;
            }
            long? location = ParseLong(t[5], storage is PlanStorageKind.Input or PlanStorageKind.Output ? "index" : "byte offset");
            if (location is null) return;
            if (_tensorsById.ContainsKey(id))
            {
                Report(Diagnostics.InconsistentPlanId, $"tensor '{id}' is declared twice");
                return;
            }
            var tensor = new PlanTensor(id, type, shape, storage, location.Value);
            _tensors.Add(tensor);
            _tensorsById.Add(id, tensor);
            _tensorLines.Add(id, _lineNumber);
        }

        private void ParseCheck(string[] t)
        {
            if (!Expect(t, 3, "check-indices <tensor> <limit>")) return;
            long? limit = ParseLong(t[2], "index limit");
            if (limit is null) return;
            if (limit.Value > int.MaxValue)
            {
                Report(Diagnostics.MalformedStatementId, $"index limit {limit.Value} is larger than {int.MaxValue}");
                return;
            }
            _checks.Add(new PlanIndexCheck(t[1], limit.Value));
            _checkLines.Add(_lineNumber);
        }

        /// <summary>The op parameter value that stands for the model instance's <c>WorkerPool</c>.</summary>
        public const string WorkersName = "workers";

        private void ParseShapeStruct(string[] t)
        {
            const string form = "shape <Name> <Interface> <Member>=<int>...";
            if (t.Length < 4)
            {
                Report(Diagnostics.MalformedStatementId, $"expected '{form}'");
                return;
            }
            if (!CSharpNames.IsIdentifier(t[1]) || !CSharpNames.IsIdentifier(t[2]))
            {
                Report(Diagnostics.MalformedStatementId, $"shape name '{Shorten(t[1])}' and interface '{Shorten(t[2])}' must be C# identifiers");
                return;
            }
            var members = new List<PlanShapeMember>();
            var seen = new HashSet<string>(StringComparer.Ordinal);
            for (int i = 3; i < t.Length; i++)
            {
                int eq = t[i].IndexOf('=');
                string member = eq > 0 ? t[i].Substring(0, eq) : "";
                if (!CSharpNames.IsIdentifier(member) || !long.TryParse(t[i].Substring(eq + 1), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out long value)
                    || value < int.MinValue || value > int.MaxValue)
                {
                    Report(Diagnostics.MalformedStatementId, $"expected '<Member>=<int>' in '{form}', found '{Shorten(t[i])}'");
                    return;
                }
                if (!seen.Add(member))
                {
                    Report(Diagnostics.MalformedStatementId, $"member '{member}' of shape '{t[1]}' is given twice");
                    return;
                }
                members.Add(new PlanShapeMember(member, value));
            }
            if (!_shapeNames.Add(t[1]))
            {
                Report(Diagnostics.InconsistentPlanId, $"shape '{t[1]}' is declared twice");
                return;
            }
            _shapeStructs.Add(new PlanShapeStruct(t[1], t[2], new EquatableArray<PlanShapeMember>(members)));
        }

        private void ParseOp(string line)
        {
            // op <Kernel> in=<ids> out=<ids> <param>=<value>... node=<rest of line>
            int nodeAt = line.IndexOf(" node=", StringComparison.Ordinal);
            if (nodeAt < 0)
            {
                Report(Diagnostics.MalformedStatementId, "an op line must end with 'node=<onnx node name>'");
                return;
            }
            string node = line.Substring(nodeAt + " node=".Length);
            string[] t = line.Substring(0, nodeAt).Split(' ');
            if (t.Length < 4 || !t[2].StartsWith("in=", StringComparison.Ordinal) || !t[3].StartsWith("out=", StringComparison.Ordinal))
            {
                Report(Diagnostics.MalformedStatementId, "expected 'op <Kernel> in=<ids> out=<ids> <param>=<value>... node=<name>'");
                return;
            }
            string kernel = t[1];
            var typeArguments = EquatableArray<string>.Empty;
            int angle = kernel.IndexOf('<');
            if (angle > 0 && kernel[kernel.Length - 1] == '>')
            {
                string[] names = kernel.Substring(angle + 1, kernel.Length - angle - 2).Split(',');
                foreach (var name in names)
                {
                    if (!CSharpNames.IsIdentifier(name))
                    {
                        Report(Diagnostics.MalformedStatementId, $"type argument '{Shorten(name)}' of kernel '{Shorten(kernel)}' is not a C# identifier");
                        return;
                    }
                }
                typeArguments = new EquatableArray<string>(names);
                kernel = kernel.Substring(0, angle);
            }
            if (!CSharpNames.IsIdentifier(kernel))
            {
                Report(Diagnostics.MalformedStatementId, $"kernel name '{Shorten(kernel)}' is not a C# identifier");
                return;
            }
            var inputs = SplitIds(t[2].Substring(3), allowAbsent: true);
            var outputs = SplitIds(t[3].Substring(4), allowAbsent: false);
            if (inputs is null || outputs is null) return;

            var parameters = new List<PlanParam>();
            var seen = new HashSet<string>(StringComparer.Ordinal);
            for (int i = 4; i < t.Length; i++)
            {
                int eq = t[i].IndexOf('=');
                if (eq <= 0 || eq == t[i].Length - 1)
                {
                    Report(Diagnostics.MalformedStatementId, $"expected '<param>=<value>', found '{Shorten(t[i])}'");
                    return;
                }
                string name = t[i].Substring(0, eq);
                string value = t[i].Substring(eq + 1);
                if (!CSharpNames.IsSimpleName(name))
                {
                    Report(Diagnostics.MalformedStatementId, $"parameter name '{Shorten(name)}' is not an identifier");
                    return;
                }
                if (!seen.Add(name))
                {
                    Report(Diagnostics.MalformedStatementId, $"parameter '{name}' is given twice");
                    return;
                }
                if (!ValidateParamValue(name, value)) return;
                parameters.Add(new PlanParam(name, value));
            }
            _ops.Add(new PlanOp(kernel, typeArguments, inputs.Value, outputs.Value, new EquatableArray<PlanParam>(parameters), node, _lineNumber));
        }

        private EquatableArray<string>? SplitIds(string list, bool allowAbsent)
        {
            if (list.Length == 0) return EquatableArray<string>.Empty;
            string[] ids = list.Split(',');
            foreach (var id in ids)
            {
                if (id.Length == 0 || (!allowAbsent && id == "-"))
                {
                    Report(Diagnostics.MalformedStatementId, $"malformed tensor list '{Shorten(list)}'");
                    return null;
                }
            }
            return new EquatableArray<string>(ids);
        }

        /// <summary>
        /// A parameter value is a C# expression without spaces: an integer expression over dims, a
        /// float literal, true/false, or a runtime enum member. Anything with other characters is refused
        /// so that a bad plan is reported here rather than as a C# error in generated code.
        /// </summary>
        private bool ValidateParamValue(string name, string value)
        {
            int depth = 0;
            foreach (char c in value)
            {
                bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
                    || c == '_' || c == '.' || c == '+' || c == '-' || c == '*' || c == '/' || c == '(' || c == ')';
                if (c == '(') depth++;
                if (c == ')') depth--;
                if (!ok || depth < 0)
                {
                    Report(Diagnostics.MalformedStatementId, $"value '{Shorten(value)}' of parameter '{name}' is not a plan expression");
                    return false;
                }
            }
            if (depth != 0)
            {
                Report(Diagnostics.MalformedStatementId, $"value '{Shorten(value)}' of parameter '{name}' has unbalanced parentheses");
                return false;
            }
            return true;
        }

        private bool TryElementType(string token, out PlanElementType type)
        {
            if (PlanElementTypes.TryParse(token, out type)) return true;
            Report(Diagnostics.UnknownElementTypeId, $"unknown element type '{Shorten(token)}'");
            return false;
        }

        private bool TryShape(string token, out PlanShape shape)
        {
            shape = new PlanShape(EquatableArray<string>.Empty);
            if (token.Length < 2 || token[0] != '[' || token[token.Length - 1] != ']')
            {
                Report(Diagnostics.MalformedStatementId, $"shape '{Shorten(token)}' must be written [d0,d1,...]");
                return false;
            }
            string inner = token.Substring(1, token.Length - 2);
            if (inner.Length == 0) return true;
            string[] dims = inner.Split(',');
            foreach (var d in dims)
            {
                if (!ValidateDimExpression(d)) return false;
            }
            shape = new PlanShape(new EquatableArray<string>(dims));
            return true;
        }

        /// <summary>Integer literals, declared dim names, <c>* + - /</c> and balanced parentheses.</summary>
        private bool ValidateDimExpression(string expression)
        {
            if (expression.Length == 0)
            {
                Report(Diagnostics.MalformedStatementId, "empty dimension in a shape");
                return false;
            }
            int depth = 0;
            int i = 0;
            while (i < expression.Length)
            {
                char c = expression[i];
                if (CSharpNames.IsSimpleNameStart(c))
                {
                    int start = i;
                    while (i < expression.Length && CSharpNames.IsSimpleNamePart(expression[i])) i++;
                    string name = expression.Substring(start, i - start);
                    if (!_dimNames.Contains(name))
                    {
                        Report(Diagnostics.UndeclaredNameId, $"dimension '{name}' in '{expression}' is not declared by a 'dim' statement before it");
                        return false;
                    }
                    continue;
                }
                if (c >= '0' && c <= '9')
                {
                    while (i < expression.Length && expression[i] >= '0' && expression[i] <= '9') i++;
                    continue;
                }
                if (c == '(') depth++;
                else if (c == ')') depth--;
                else if (c != '*' && c != '+' && c != '-' && c != '/') depth = -1;
                if (depth < 0)
                {
                    Report(Diagnostics.MalformedStatementId, $"dimension expression '{Shorten(expression)}' is malformed");
                    return false;
                }
                i++;
            }
            if (depth != 0)
            {
                Report(Diagnostics.MalformedStatementId, $"dimension expression '{Shorten(expression)}' has unbalanced parentheses");
                return false;
            }
            return true;
        }

        /// <summary>Checks that need the whole plan: required statements and cross references.</summary>
        private void Validate()
        {
            if (_diagnostics.Count > 0) return;
            AtLine(1);
            if (_className is null) Report(Diagnostics.MissingStatementId, "the 'class <Name>' statement is missing");
            if (_resource is null) Report(Diagnostics.MissingStatementId, "the 'resource <name>' statement is missing");
            if (_weights is null) Report(Diagnostics.MissingStatementId, "the 'weights <bytes>' statement is missing");
            if (_arena is null) Report(Diagnostics.MissingStatementId, "the 'arena <bytes>' statement is missing");

            ValidateValues(_inputs, _inputLines, PlanStorageKind.Input, "input");
            ValidateValues(_outputs, _outputLines, PlanStorageKind.Output, "output");

            foreach (var tensor in _tensors)
            {
                AtLine(_tensorLines[tensor.Id]);
                if (tensor.Storage == PlanStorageKind.Input)
                {
                    if (tensor.Location >= _inputs.Count)
                        Report(Diagnostics.InconsistentPlanId, $"tensor '{tensor.Id}' lives in input {tensor.Location}, but the plan declares {_inputs.Count} inputs");
                    else if (_inputs[(int)tensor.Location].ElementType != tensor.ElementType)
                        Report(Diagnostics.InconsistentPlanId, $"tensor '{tensor.Id}' has element type {tensor.ElementType} but input {tensor.Location} is {_inputs[(int)tensor.Location].ElementType}");
                }
                else if (tensor.Storage == PlanStorageKind.Output)
                {
                    if (tensor.Location >= _outputs.Count)
                        Report(Diagnostics.InconsistentPlanId, $"tensor '{tensor.Id}' lives in output {tensor.Location}, but the plan declares {_outputs.Count} outputs");
                    else if (_outputs[(int)tensor.Location].ElementType != tensor.ElementType)
                        Report(Diagnostics.InconsistentPlanId, $"tensor '{tensor.Id}' has element type {tensor.ElementType} but output {tensor.Location} is {_outputs[(int)tensor.Location].ElementType}");
                }
                else if (tensor.Storage is PlanStorageKind.Arena or PlanStorageKind.Weight)
                {
                    // At the maximum of every dimension the tensor must fit in its block (a planner bug otherwise).
                    bool arena = tensor.Storage == PlanStorageKind.Arena;
                    long? size = arena ? _arena : _weights;
                    long? end = MaxByteExtent(tensor);
                    if (size is long bytes && end is long last && last > bytes)
                        Report(Diagnostics.InconsistentPlanId, $"tensor '{tensor.Id}' {tensor.Shape} at {(arena ? "arena" : "weights")} offset {tensor.Location} ends at byte {last} at the maximum dimensions, beyond the {bytes}-byte {(arena ? "arena" : "weights blob")}");
                }
            }

            for (int i = 0; i < _checks.Count; i++)
            {
                AtLine(_checkLines[i]);
                var check = _checks[i];
                if (!_tensorsById.TryGetValue(check.TensorId, out var tensor))
                    Report(Diagnostics.UndeclaredNameId, $"check-indices refers to tensor '{check.TensorId}', which has no 'tensor' statement");
                else if (tensor.ElementType != PlanElementType.I64 && tensor.ElementType != PlanElementType.I32)
                    Report(Diagnostics.InconsistentPlanId, $"check-indices needs an i64 or i32 tensor, '{check.TensorId}' is {tensor.ElementType}");
            }

            foreach (var op in _ops)
            {
                AtLine(op.Line);
                foreach (var name in op.TypeArguments)
                {
                    if (!_shapeNames.Contains(name))
                        Report(Diagnostics.UndeclaredNameId, $"op {op.Kernel} (node '{Shorten(op.Node)}') uses shape '{name}', which has no 'shape' statement");
                }
                foreach (var id in op.Inputs)
                {
                    if (id != "-" && !_tensorsById.ContainsKey(id))
                        Report(Diagnostics.UndeclaredNameId, $"op {op.Kernel} (node '{Shorten(op.Node)}') reads tensor '{id}', which has no 'tensor' statement");
                }
                foreach (var id in op.Outputs)
                {
                    if (!_tensorsById.TryGetValue(id, out var tensor))
                        Report(Diagnostics.UndeclaredNameId, $"op {op.Kernel} (node '{Shorten(op.Node)}') writes tensor '{id}', which has no 'tensor' statement");
                    else if (tensor.Storage is PlanStorageKind.Input or PlanStorageKind.Weight)
                        Report(Diagnostics.InconsistentPlanId, $"op {op.Kernel} (node '{Shorten(op.Node)}') writes tensor '{id}', which is read-only ({tensor.Storage.ToString().ToLowerInvariant()} storage)");
                }
            }
        }

        /// <summary>The byte just past the tensor at the maxima of all dims, or null if it cannot be evaluated.</summary>
        private long? MaxByteExtent(PlanTensor tensor)
        {
            long count = 1;
            foreach (var d in tensor.Shape.Dims)
            {
                int position = 0;
                long? value = EvaluateSum(d, ref position);
                if (value is null || position != d.Length || value.Value < 0) return null;
                try { count = checked(count * value.Value); }
                catch (OverflowException) { return long.MaxValue; }
            }
            try { return checked(tensor.Location + count * ElementSize(tensor.ElementType)); }
            catch (OverflowException) { return long.MaxValue; }
        }

        private long? EvaluateSum(string e, ref int i)
        {
            long? left = EvaluateProduct(e, ref i);
            while (left is not null && i < e.Length && (e[i] == '+' || e[i] == '-'))
            {
                char op = e[i++];
                long? right = EvaluateProduct(e, ref i);
                if (right is null) return null;
                left = op == '+' ? left + right : left - right;
            }
            return left;
        }

        private long? EvaluateProduct(string e, ref int i)
        {
            long? left = EvaluateFactor(e, ref i);
            while (left is not null && i < e.Length && (e[i] == '*' || e[i] == '/'))
            {
                char op = e[i++];
                long? right = EvaluateFactor(e, ref i);
                if (right is null || (op == '/' && right == 0)) return null;
                left = op == '*' ? left * right : left / right;
            }
            return left;
        }

        private long? EvaluateFactor(string e, ref int i)
        {
            if (i >= e.Length) return null;
            char c = e[i];
            if (c == '-') { i++; return -EvaluateFactor(e, ref i); }
            if (c == '(')
            {
                i++;
                long? inner = EvaluateSum(e, ref i);
                if (i >= e.Length || e[i] != ')') return null;
                i++;
                return inner;
            }
            int start = i;
            if (c >= '0' && c <= '9')
            {
                while (i < e.Length && e[i] >= '0' && e[i] <= '9') i++;
                return long.TryParse(e.Substring(start, i - start), NumberStyles.None, CultureInfo.InvariantCulture, out long n) ? n : null;
            }
            while (i < e.Length && CSharpNames.IsSimpleNamePart(e[i])) i++;
            string name = e.Substring(start, i - start);
            foreach (var dim in _dims)
            {
                if (dim.Name == name) return dim.Max;
            }
            return null;
        }

        private static int ElementSize(PlanElementType type) => type switch
        {
            PlanElementType.F64 or PlanElementType.I64 => 8,
            PlanElementType.F32 or PlanElementType.I32 => 4,
            PlanElementType.F16 => 2,
            _ => 1,
        };

        private void ValidateValues(List<PlanValue> values, List<int> lines, PlanStorageKind kind, string keyword)
        {
            var names = new HashSet<string>(StringComparer.Ordinal);
            for (int k = 0; k < values.Count; k++)
            {
                AtLine(lines[k]);
                var value = values[k];
                if (!names.Add(value.OnnxName))
                    Report(Diagnostics.InconsistentPlanId, $"{keyword} '{value.OnnxName}' is declared twice");
                if (!_tensorsById.TryGetValue(value.TensorId, out var tensor))
                    Report(Diagnostics.UndeclaredNameId, $"{keyword} '{value.OnnxName}' refers to tensor '{value.TensorId}', which has no 'tensor' statement");
                else if (tensor.Storage != kind || tensor.Location != k)
                    Report(Diagnostics.InconsistentPlanId, $"{keyword} '{value.OnnxName}' is {keyword} {k}, but its tensor '{value.TensorId}' is stored as '{tensor.Storage.ToString().ToLowerInvariant()} {tensor.Location}'");
                else if (tensor.ElementType != value.ElementType)
                    Report(Diagnostics.InconsistentPlanId, $"{keyword} '{value.OnnxName}' is {value.ElementType} but its tensor '{value.TensorId}' is {tensor.ElementType}");
            }
        }

        private bool Expect(string[] tokens, int count, string form)
        {
            if (tokens.Length == count && Array.IndexOf(tokens, string.Empty) < 0) return true;
            Report(Diagnostics.MalformedStatementId, $"expected '{form}' (tokens separated by single spaces)");
            return false;
        }

        private bool CheckOnce(object? current, string keyword)
        {
            if (current is null) return true;
            Report(Diagnostics.MalformedStatementId, $"'{keyword}' is given twice");
            return false;
        }

        private long? ParseLong(string token, string what)
        {
            if (long.TryParse(token, NumberStyles.None, CultureInfo.InvariantCulture, out long value)) return value;
            Report(Diagnostics.MalformedStatementId, $"{what} '{Shorten(token)}' is not a non-negative integer");
            return null;
        }

        private void AtLine(int line)
        {
            _lineNumber = line;
            if (_lineSpans.TryGetValue(line, out var span)) { _lineStart = span.Start; _lineLength = span.Length; }
            else { _lineStart = 0; _lineLength = 0; }
        }

        private void Report(string id, string detail) =>
            _diagnostics.Add(new PlanDiagnostic(id, _path, _lineNumber, _lineStart, _lineLength, _lineLength, detail));

        private static string Shorten(string s) => s.Length <= 80 ? s : s.Substring(0, 77) + "...";
    }
}
