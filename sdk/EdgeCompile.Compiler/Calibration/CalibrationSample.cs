using System;
using System.Collections.Generic;

namespace EdgeCompile.Compiler.Calibration;

/// <summary>One calibration sample: batch 1, inputs in plan order, and the dimension values it runs at.</summary>
/// <param name="Source">Where it came from, for messages: <c>folder/sub (sample 3)</c>.</param>
public sealed record CalibrationSample(IReadOnlyList<Array> Inputs, IReadOnlyDictionary<string, long> Dims, string Source);
